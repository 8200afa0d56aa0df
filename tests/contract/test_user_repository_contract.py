"""UserRepository: every adapter stores, finds and refuses users alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.errors import EmailAlreadyRegistered
from application.ports.types import UnitOfWorkFactory
from domain.users import EmailAddress
from tests.contract.builders import a_user, an_item, committed

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_committed_user_is_found_by_id_with_every_field(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = a_user(name="Ada Lovelace")
    user.change_role(is_superuser=True, now=NOW)
    await committed(uow_factory, user)
    async with uow_factory() as uow:
        found = await uow.users.get(user.id)
    assert found is not None
    assert (found.id, found.email, found.hashed_password, found.full_name) == (
        user.id,
        user.email,
        user.hashed_password,
        "Ada Lovelace",
    )
    assert (found.created_at, found.is_active, found.is_superuser) == (user.created_at, True, True)
    assert found.created_at.utcoffset() is not None


async def test_committed_user_is_found_by_email_in_any_case(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = a_user("Grace.Hopper@Example.com")
    await committed(uow_factory, user)
    async with uow_factory() as uow:
        found = await uow.users.get_by_email(EmailAddress("GRACE.hopper@example.COM"))
    assert found is not None
    assert found.id == user.id
    assert found.email.value == "grace.hopper@example.com"


async def test_unknown_id_and_unknown_email_find_nobody(uow_factory: UnitOfWorkFactory) -> None:
    await committed(uow_factory, a_user("known@example.com"))
    async with uow_factory() as uow:
        assert await uow.users.get(a_user().id) is None
        assert await uow.users.get_by_email(EmailAddress("unknown@example.com")) is None


async def test_adding_a_taken_email_in_another_case_raises_email_already_registered(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await committed(uow_factory, a_user("taken@example.com"))
    async with uow_factory() as uow:
        with pytest.raises(EmailAlreadyRegistered):
            await uow.users.add(a_user("TAKEN@example.com"))


async def test_a_refused_email_leaves_the_transaction_usable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await committed(uow_factory, a_user("taken@example.com"))
    before, after = a_user("before@example.com"), a_user("after@example.com")
    async with uow_factory() as uow:
        await uow.users.add(before)
        with pytest.raises(EmailAlreadyRegistered):
            await uow.users.add(a_user("Taken@Example.com"))
        await uow.users.add(after)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.count() == 3
        assert await uow.users.get(before.id) is not None
        assert await uow.users.get(after.id) is not None


async def test_a_refused_email_then_leaving_without_commit_keeps_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await committed(uow_factory, a_user("taken@example.com"))
    newcomer = a_user("newcomer@example.com")
    async with uow_factory() as uow:
        await uow.users.add(newcomer)
        with pytest.raises(EmailAlreadyRegistered):
            await uow.users.add(a_user("taken@EXAMPLE.com"))
    async with uow_factory() as uow:
        assert await uow.users.get(newcomer.id) is None
        assert await uow.users.count() == 1


async def test_update_stores_the_changed_profile_and_flags(uow_factory: UnitOfWorkFactory) -> None:
    user = a_user("old@example.com", name="Old")
    await committed(uow_factory, user)
    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        assert loaded is not None
        loaded.change_profile(email=EmailAddress("New@Example.com"), full_name="New")
        loaded.change_password_hash("fake$2$another")
        loaded.deactivate(now=NOW)
        loaded.change_role(is_superuser=True, now=NOW)
        await uow.users.update(loaded)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.users.get_by_email(EmailAddress("new@example.com"))
        assert await uow.users.get_by_email(EmailAddress("old@example.com")) is None
    assert found is not None
    assert (found.full_name, found.hashed_password) == ("New", "fake$2$another")
    assert (found.is_active, found.is_superuser) == (False, True)


async def test_update_to_a_taken_email_raises_email_already_registered(
    uow_factory: UnitOfWorkFactory,
) -> None:
    mine, theirs = a_user("mine@example.com"), a_user("theirs@example.com")
    await committed(uow_factory, mine, theirs)
    async with uow_factory() as uow:
        mine.change_profile(email=EmailAddress("THEIRS@example.com"), full_name=None)
        with pytest.raises(EmailAlreadyRegistered):
            await uow.users.update(mine)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.users.get(mine.id)
    assert found is not None
    assert found.email.value == "mine@example.com"


async def test_deleting_a_user_deletes_their_items_but_nobody_elses(
    uow_factory: UnitOfWorkFactory,
) -> None:
    leaving, staying = a_user("leaving@example.com"), a_user("staying@example.com")
    gone, kept = an_item(leaving), an_item(staying)
    await committed(uow_factory, leaving, staying, gone, kept, an_item(leaving, second=1))
    async with uow_factory() as uow:
        await uow.users.delete(leaving)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(leaving.id) is None
        assert await uow.items.get(gone.id) is None
        assert await uow.items.count_for_owner(leaving.id) == 0
        assert await uow.items.get(kept.id) is not None
        assert await uow.users.count() == 1


async def test_list_pages_users_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    users = [a_user(f"user{n}@example.com", second=n) for n in range(5)]
    await committed(uow_factory, *reversed(users))
    async with uow_factory() as uow:
        first = await uow.users.list(skip=0, limit=2)
        rest = await uow.users.list(skip=2, limit=10)
        beyond = await uow.users.list(skip=5, limit=10)
        total = await uow.users.count()
    assert [u.id for u in first + rest] == [u.id for u in users]
    assert (beyond, total) == ([], 5)
