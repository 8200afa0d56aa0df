"""Refresh- and reset-token repositories: single use, revocation, on every adapter alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

from application.ports.types import UnitOfWorkFactory
from domain.ids import new_id
from domain.sessions import PasswordResetToken, RefreshToken
from domain.users import User
from tests.contract.builders import a_user, at, committed


def a_refresh_token(user: User, family: UUID | None = None, *, name: str = "t") -> RefreshToken:
    """A live link of `family` (a new family when None)."""
    issued = at(1)
    return RefreshToken(
        new_id(issued),
        user.id,
        family or new_id(issued),
        f"hash-{name}-{new_id(issued).hex}",
        issued,
        issued + timedelta(days=14),
    )


async def stored(uow_factory: UnitOfWorkFactory, *tokens: RefreshToken) -> None:
    async with uow_factory() as uow:
        for token in tokens:
            await uow.refresh_tokens.add(token)
        await uow.commit()


async def test_a_stored_refresh_token_is_found_by_its_hash(uow_factory: UnitOfWorkFactory) -> None:
    user = a_user()
    await committed(uow_factory, user)
    token = a_refresh_token(user)
    await stored(uow_factory, token)
    async with uow_factory() as uow:
        found = await uow.refresh_tokens.get_by_hash(token.token_hash)
        missing = await uow.refresh_tokens.get_by_hash("no such hash")
    assert found is not None and missing is None
    assert vars(found) == vars(token)


async def test_a_refresh_token_is_consumed_once_and_never_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = a_user()
    await committed(uow_factory, user)
    token = a_refresh_token(user)
    await stored(uow_factory, token)
    async with uow_factory() as uow:
        first = await uow.refresh_tokens.consume(token.id, at(2))
        again = await uow.refresh_tokens.consume(token.id, at(3))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.refresh_tokens.get_by_hash(token.token_hash)
    assert (first, again) == (True, False)
    assert found is not None and found.used_at == at(2)


async def test_of_two_concurrent_consumers_exactly_one_wins(uow_factory: UnitOfWorkFactory) -> None:
    user = a_user()
    await committed(uow_factory, user)
    token = a_refresh_token(user)
    await stored(uow_factory, token)

    async def consume() -> bool:
        async with uow_factory() as uow:
            won = await uow.refresh_tokens.consume(token.id, at(2))
            await uow.commit()
        return won

    assert sorted(await asyncio.gather(consume(), consume())) == [False, True]


async def test_revoking_a_family_revokes_its_links_only(uow_factory: UnitOfWorkFactory) -> None:
    user = a_user()
    await committed(uow_factory, user)
    first = a_refresh_token(user, name="first")
    second, other = a_refresh_token(user, first.family_id, name="second"), a_refresh_token(user)
    await stored(uow_factory, first, second, other)
    async with uow_factory() as uow:
        await uow.refresh_tokens.revoke_family(first.family_id, at(5))
        await uow.commit()
    async with uow_factory() as uow:
        revoked = [await uow.refresh_tokens.get_by_hash(t.token_hash) for t in (first, second)]
        spared = await uow.refresh_tokens.get_by_hash(other.token_hash)
        consumed = await uow.refresh_tokens.consume(first.id, at(6))
    assert [t.revoked_at if t else None for t in revoked] == [at(5), at(5)]
    assert spared is not None and spared.revoked_at is None
    assert consumed is False


async def test_revoking_for_a_user_spares_the_kept_family_and_other_users(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user, someone = a_user("user@example.com"), a_user("someone@example.com")
    await committed(uow_factory, user, someone)
    kept, dropped, theirs = a_refresh_token(user), a_refresh_token(user), a_refresh_token(someone)
    await stored(uow_factory, kept, dropped, theirs)
    async with uow_factory() as uow:
        await uow.refresh_tokens.revoke_for_user(user.id, at(7), keep_family=kept.family_id)
        await uow.commit()
    async with uow_factory() as uow:
        states = [
            await uow.refresh_tokens.get_by_hash(t.token_hash) for t in (kept, dropped, theirs)
        ]
        await uow.refresh_tokens.revoke_for_user(user.id, at(8))
        await uow.commit()
        every = await uow.refresh_tokens.get_by_hash(kept.token_hash)
    assert [t.revoked_at if t else "missing" for t in states] == [None, at(7), None]
    assert every is not None and every.revoked_at == at(8)


async def test_a_reset_token_is_found_by_hash_and_consumed_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = a_user()
    await committed(uow_factory, user)
    token = PasswordResetToken(new_id(at(0)), user.id, "reset-hash", at(3600))
    async with uow_factory() as uow:
        await uow.reset_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.reset_tokens.get_by_hash("reset-hash")
        results = [await uow.reset_tokens.consume(token.id, at(60)) for _ in range(2)]
        await uow.commit()
    async with uow_factory() as uow:
        used = await uow.reset_tokens.get_by_hash("reset-hash")
    assert found is not None and vars(found) == vars(token)
    assert results == [True, False]
    assert used is not None and used.used_at == at(60)


async def test_using_up_a_users_reset_tokens_spares_other_users(
    uow_factory: UnitOfWorkFactory,
) -> None:
    ada, bob = a_user("ada@example.com"), a_user("bob@example.com", second=1)
    await committed(uow_factory, ada, bob)
    tokens = [
        PasswordResetToken(new_id(at(n)), owner.id, f"reset-{n}", at(3600))
        for n, owner in enumerate([ada, ada, bob])
    ]
    async with uow_factory() as uow:
        for token in tokens:
            await uow.reset_tokens.add(token)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.reset_tokens.revoke_for_user(ada.id, at(60))
        await uow.commit()
    async with uow_factory() as uow:
        found = [await uow.reset_tokens.get_by_hash(f"reset-{n}") for n in range(3)]
    assert [token.used_at if token else "missing" for token in found] == [at(60), at(60), None]
