"""Races between units of work end the same way on every adapter: exactly one winner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import UTC, datetime

from adapters.memory.clock import FrozenClock
from application.dto import Actor
from application.errors import EmailAlreadyRegistered, PreconditionFailed
from application.ports.types import UnitOfWorkFactory
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from application.use_cases.items.update_item import UpdateItem, UpdateItemHandler
from domain.items import Item
from domain.users import EmailAddress, Password
from tests.contract.builders import a_user, an_item, committed
from tests.fakes import FakePasswordHasher

NOW = datetime(2026, 1, 1, tzinfo=UTC)


PASSWORD = "correct horse battery"


class RendezvousHasher(FakePasswordHasher):
    """Holds each hash until the other registration has hashed too (or a short while passed).

    Both registrations have then checked that the email is free before either inserts, so
    the database constraint, not the check, must decide. (The in-memory store serialises
    whole transactions, so there the second one simply waits its turn.)
    """

    def __init__(self) -> None:
        super().__init__()
        self._arrived = 0
        self._both = asyncio.Event()

    async def hash(self, password: Password) -> str:
        self._arrived += 1
        if self._arrived == 2:
            self._both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._both.wait(), timeout=0.3)
        return await super().hash(password)


async def outcomes(*calls: Awaitable[object]) -> list[str]:
    """Run the calls concurrently; name each outcome ("ok" or the error's class), sorted."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    return sorted("ok" if not isinstance(r, BaseException) else type(r).__name__ for r in results)


async def test_two_concurrent_registrations_of_one_email_make_exactly_one_account(
    uow_factory: UnitOfWorkFactory,
) -> None:
    register = RegisterUserHandler(uow_factory, RendezvousHasher(), FrozenClock())
    results = await outcomes(
        register(RegisterUser("race@example.com", PASSWORD)),
        register(RegisterUser("RACE@Example.com", PASSWORD)),
    )
    assert results == sorted(["ok", EmailAlreadyRegistered.__name__])
    async with uow_factory() as uow:
        assert await uow.users.count() == 1
        assert await uow.users.get_by_email(EmailAddress("race@example.com")) is not None


async def _owned_item(uow_factory: UnitOfWorkFactory) -> tuple[Actor, Item, UpdateItemHandler]:
    """A committed item, its owner as the caller, and the handler that changes it."""
    owner = a_user()
    item = an_item(owner, "Original")
    await committed(uow_factory, owner, item)
    return Actor(owner.id, is_superuser=False), item, UpdateItemHandler(uow_factory, FrozenClock())


async def test_two_concurrent_updates_at_one_version_have_exactly_one_winner(
    uow_factory: UnitOfWorkFactory,
) -> None:
    actor, item, update = await _owned_item(uow_factory)
    results = await outcomes(
        update(UpdateItem(actor, item.id, title="First", expected_versions=frozenset({1}))),
        update(UpdateItem(actor, item.id, title="Second", expected_versions=frozenset({1}))),
    )
    assert results == sorted(["ok", PreconditionFailed.__name__])
    async with uow_factory() as uow:
        stored = await uow.items.get(item.id)
    assert stored is not None
    assert stored.version == 2
    assert stored.title in {"First", "Second"}


async def test_two_concurrent_unconditional_updates_both_apply(
    uow_factory: UnitOfWorkFactory,
) -> None:
    actor, item, update = await _owned_item(uow_factory)
    results = await outcomes(
        *(update(UpdateItem(actor, item.id, title=f"Title {n}")) for n in range(3))
    )
    assert results == ["ok", "ok", "ok"]
    async with uow_factory() as uow:
        stored = await uow.items.get(item.id)
    assert stored is not None
    assert stored.version == 4


CLIENTS = 16
UPDATES_PER_CLIENT = 40


async def test_sixteen_clients_updating_one_item_without_a_version_all_land(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """An update without an expected version asked for no check: it is never refused."""
    actor, item, update = await _owned_item(uow_factory)

    async def client(n: int) -> list[str]:
        return [
            await _outcome(update(UpdateItem(actor, item.id, description=f"{n}.{k}")))
            for k in range(UPDATES_PER_CLIENT)
        ]

    results = [r for rs in await asyncio.gather(*(client(n) for n in range(CLIENTS))) for r in rs]
    assert results == ["ok"] * CLIENTS * UPDATES_PER_CLIENT
    async with uow_factory() as uow:
        stored = await uow.items.get(item.id)
    assert stored is not None
    assert stored.version == 1 + CLIENTS * UPDATES_PER_CLIENT


async def test_clients_racing_with_an_expected_version_have_one_winner_per_version(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Each round every client reads the item, then all change it at the version they read."""
    actor, item, update = await _owned_item(uow_factory)
    rounds = UPDATES_PER_CLIENT // 4
    all_read, all_tried = asyncio.Barrier(CLIENTS), asyncio.Barrier(CLIENTS)
    attempts: list[tuple[int, str]] = []

    async def client(n: int) -> None:
        for k in range(rounds):
            async with uow_factory() as uow:
                seen = await uow.items.get(item.id)
            assert seen is not None
            await all_read.wait()
            change = UpdateItem(
                actor, item.id, title=f"{n}.{k}", expected_versions=frozenset({seen.version})
            )
            attempts.append((seen.version, await _outcome(update(change))))
            await all_tried.wait()

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    winners = sorted(version for version, outcome in attempts if outcome == "ok")
    assert winners == list(range(1, 1 + rounds))  # one per version, each version once
    losers = [outcome for _, outcome in attempts if outcome != "ok"]
    assert losers == [PreconditionFailed.__name__] * (CLIENTS - 1) * rounds
    async with uow_factory() as uow:
        stored = await uow.items.get(item.id)
    assert stored is not None
    assert stored.version == 1 + rounds


async def _outcome(call: Awaitable[object]) -> str:
    try:
        await call
    except Exception as exc:  # the outcome is what is compared
        return type(exc).__name__
    return "ok"


async def test_two_read_modify_writes_of_one_user_keep_both_changes(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = a_user()
    await committed(uow_factory, user)
    first_has_read = asyncio.Event()

    async def rename() -> None:
        async with uow_factory() as uow:
            found = await uow.users.get_for_update(user.id)
            assert found is not None
            first_has_read.set()
            await asyncio.sleep(0.05)  # the other change arrives while this one is in flight
            found.change_profile(email=None, full_name="Renamed")
            await uow.users.update(found)
            await uow.commit()

    async def deactivate() -> None:
        await first_has_read.wait()
        async with uow_factory() as uow:
            found = await uow.users.get_for_update(user.id)
            assert found is not None
            found.deactivate(now=NOW)
            await uow.users.update(found)
            await uow.commit()

    await asyncio.gather(rename(), deactivate())
    async with uow_factory() as uow:
        final = await uow.users.get(user.id)
    assert final is not None
    assert (final.full_name, final.is_active) == ("Renamed", False)
