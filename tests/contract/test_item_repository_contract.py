"""ItemRepository: every adapter stores, versions, pages and streams items alike."""

from __future__ import annotations

import pytest

from application.errors import PreconditionFailed
from application.ports.types import UnitOfWorkFactory
from tests.contract.builders import a_user, an_item, at, committed


async def test_committed_item_comes_back_with_every_field(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    item = an_item(owner, "Groceries", second=3, description="milk\neggs")
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        found = await uow.items.get(item.id)
    assert found is not None
    assert found.snapshot() == item.snapshot()
    assert found.events == []


async def test_unknown_item_is_none(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    await committed(uow_factory, owner, an_item(owner))
    async with uow_factory() as uow:
        assert await uow.items.get(an_item(owner).id) is None


async def test_save_stores_the_next_version(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    item = an_item(owner, "Draft")
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        loaded = await uow.items.get(item.id)
        assert loaded is not None
        loaded.update(title="Final", description=None, now=at(60))
        await uow.items.save(loaded)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.items.get(item.id)
    assert found is not None
    assert (found.title, found.version, found.updated_at) == ("Final", 2, at(60))
    assert found.created_at == item.created_at


async def test_save_with_a_stale_version_raises_precondition_failed_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item = an_item(owner, "Original")
    await committed(uow_factory, owner, item)
    stale = an_item(owner, "Original")
    stale.id = item.id
    async with uow_factory() as uow:
        winner = await uow.items.get(item.id)
        assert winner is not None
        winner.update(title="Winner", now=at(1))
        await uow.items.save(winner)
        await uow.commit()
    async with uow_factory() as uow:
        stale.update(title="Loser", now=at(2))  # also version 2, made from version 1
        with pytest.raises(PreconditionFailed):
            await uow.items.save(stale)
    async with uow_factory() as uow:
        found = await uow.items.get(item.id)
    assert found is not None
    assert (found.title, found.version) == ("Winner", 2)


async def test_saving_a_deleted_item_raises_precondition_failed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item = an_item(owner)
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        await uow.items.delete(item)
        await uow.commit()
    item.update(title="Too late", now=at(5))
    async with uow_factory() as uow:
        with pytest.raises(PreconditionFailed):
            await uow.items.save(item)


async def test_delete_removes_only_that_item(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    doomed, kept = an_item(owner, second=1), an_item(owner, second=2)
    await committed(uow_factory, owner, doomed, kept)
    async with uow_factory() as uow:
        await uow.items.delete(doomed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.items.get(doomed.id) is None
        assert await uow.items.get(kept.id) is not None
        assert await uow.items.count_for_owner(owner.id) == 1


async def test_list_for_owner_pages_the_owners_items_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = a_user("owner@example.com"), a_user("other@example.com")
    mine = [an_item(owner, f"mine {n}", second=10 - n) for n in range(5)]
    await committed(uow_factory, owner, other, *mine, an_item(other, second=0))
    async with uow_factory() as uow:
        first = await uow.items.list_for_owner(owner.id, skip=0, limit=3)
        rest = await uow.items.list_for_owner(owner.id, skip=3, limit=3)
        beyond = await uow.items.list_for_owner(owner.id, skip=5, limit=3)
        counts = (
            await uow.items.count_for_owner(owner.id),
            await uow.items.count_for_owner(other.id),
        )
    assert [i.title for i in first + rest] == [f"mine {n}" for n in reversed(range(5))]
    assert (beyond, counts) == ([], (5, 1))


async def test_list_for_owner_after_pages_the_owners_items_by_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = a_user("owner@example.com"), a_user("other@example.com")
    mine = [an_item(owner, f"mine {n}", second=n % 3) for n in range(7)]
    await committed(uow_factory, owner, other, *mine, an_item(other))
    by_id = sorted(item.id for item in mine)
    async with uow_factory() as uow:
        first = await uow.items.list_for_owner_after(owner.id, after=None, limit=3)
        second = await uow.items.list_for_owner_after(owner.id, after=first[-1].id, limit=3)
        third = await uow.items.list_for_owner_after(owner.id, after=second[-1].id, limit=3)
        beyond = await uow.items.list_for_owner_after(owner.id, after=by_id[-1], limit=3)
    assert [i.id for i in first + second + third] == by_id
    assert beyond == []


async def test_stream_for_owner_yields_every_item_of_the_owner_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = a_user("owner@example.com"), a_user("other@example.com")
    mine = [an_item(owner, f"item {n}", second=n) for n in range(1_234)]
    await committed(uow_factory, owner, other, an_item(other), *reversed(mine))
    async with uow_factory() as uow:
        streamed = [item.id async for item in uow.items.stream_for_owner(owner.id)]
    assert streamed == [item.id for item in mine]


async def test_adding_an_item_needs_no_commit_to_be_read_in_its_own_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    item = an_item(owner)
    async with uow_factory() as uow:
        await uow.items.add(item)
        assert await uow.items.get(item.id) is not None
        assert [i.id async for i in uow.items.stream_for_owner(owner.id)] == [item.id]
