"""UnitOfWork: explicit commit, implicit rollback, events only after commit, on every adapter."""

from __future__ import annotations

import pytest

from adapters.memory.events import RecordingPublisher
from application.ports.types import UnitOfWorkFactory
from tests.contract.builders import a_user, an_item, at, committed


class Boom(Exception):
    """An error raised by the code inside a unit of work."""


async def test_leaving_without_commit_keeps_nothing(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    async with uow_factory() as uow:
        await uow.users.add(owner)
        await uow.items.add(an_item(owner))
    async with uow_factory() as uow:
        assert await uow.users.get(owner.id) is None
        assert await uow.items.count_for_owner(owner.id) == 0


async def test_an_exception_inside_the_block_rolls_back_and_propagates(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()

    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await uow.users.add(owner)
            raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    async with uow_factory() as uow:
        assert await uow.users.get(owner.id) is None


async def test_changes_after_a_commit_need_another_commit(uow_factory: UnitOfWorkFactory) -> None:
    owner = a_user()
    item = an_item(owner)
    async with uow_factory() as uow:
        await uow.users.add(owner)
        await uow.commit()
        await uow.items.add(item)
    async with uow_factory() as uow:
        assert await uow.users.get(owner.id) is not None
        assert await uow.items.get(item.id) is None


async def test_an_uncommitted_change_is_invisible_to_other_units_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    item = an_item(owner)
    async with uow_factory() as writer:
        await writer.items.add(item)
        await writer.commit()
    async with uow_factory() as reader:
        assert await reader.items.get(item.id) is not None


async def test_events_are_released_only_after_commit(
    uow_factory: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    item = an_item(owner)
    async with uow_factory() as uow:
        await uow.items.add(uow.track(item))
        assert publisher.events == []
        await uow.commit()
        assert [event.name for event in publisher.events] == ["item.created"]
    assert item.events == []


async def test_no_events_are_released_without_commit(
    uow_factory: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    async with uow_factory() as uow:
        await uow.items.add(uow.track(an_item(owner)))

    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await uow.items.add(uow.track(an_item(owner)))
            raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    assert publisher.events == []


async def test_loaded_items_release_their_update_events_after_commit(
    uow_factory: UnitOfWorkFactory, publisher: RecordingPublisher
) -> None:
    owner = a_user()
    item = an_item(owner)
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        loaded = await uow.items.get(item.id)
        assert loaded is not None
        uow.track(loaded).update(title="Renamed", now=at(9))
        await uow.items.save(loaded)
        await uow.commit()
    assert [(e.name, e.item.version) for e in publisher.events] == [("item.updated", 2)]
