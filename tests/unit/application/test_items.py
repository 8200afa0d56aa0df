"""Item use cases: owner-or-superuser access, versions, events after commit, paging."""

import asyncio
import dataclasses
from dataclasses import replace

import pytest

from application.dto import ItemView
from application.errors import InvalidCursor, InvalidPage, ItemNotFound, PreconditionFailed
from application.resilience.cache import CacheUpdater
from application.use_cases.items.create_item import CreateItem, CreateItemHandler
from application.use_cases.items.delete_item import DeleteItem, DeleteItemHandler
from application.use_cases.items.get_item import GetItem, GetItemHandler
from application.use_cases.items.list_items import ListItems, ListItemsHandler
from application.use_cases.items.list_items_by_cursor import (
    ListItemsByCursor,
    ListItemsByCursorHandler,
)
from application.use_cases.items.update_item import UpdateItem, UpdateItemHandler
from domain.errors import InvalidTitle
from domain.events import ItemDeleted, ItemSnapshot, ItemUpdated
from domain.ids import new_id
from domain.items import Item


async def _create(world, actor, title="first", description=None):
    return await CreateItemHandler(world.uow, world.clock)(CreateItem(actor, title, description))


async def test_creates_version_1_owned_by_the_caller_and_announces_it(world):
    ada = await world.register()
    item = await _create(world, ada, "Groceries", "milk")
    assert (item.owner_id, item.version, item.description) == (ada.user_id, 1, "milk")
    assert [e.name for e in world.publisher.events] == ["item.created"]


async def test_refuses_an_invalid_title_and_stores_and_announces_nothing(world):
    ada = await world.register()
    with pytest.raises(InvalidTitle):
        await _create(world, ada, "  ")
    assert world.store.items == {} and world.publisher.events == []


async def test_another_users_item_is_not_found_exactly_like_a_missing_one(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    item = await _create(world, ada)
    with pytest.raises(ItemNotFound) as other:
        await GetItemHandler(world.uow, world.cache)(GetItem(bob, item.id))
    with pytest.raises(ItemNotFound) as missing:
        await GetItemHandler(world.uow, world.cache)(GetItem(bob, bob.user_id))
    assert str(other.value) == str(missing.value)


async def test_a_superuser_reads_changes_and_deletes_anyones_item(world):
    ada, root = await world.register("ada@x.io"), await world.register("r@x.io", superuser=True)
    item = await _create(world, ada)
    assert (await GetItemHandler(world.uow, world.cache)(GetItem(root, item.id))).id == item.id
    changed = await UpdateItemHandler(world.uow, world.clock)(
        UpdateItem(root, item.id, title="by root")
    )
    assert changed.version == 2 and changed.owner_id == ada.user_id
    await DeleteItemHandler(world.uow, world.clock)(DeleteItem(root, item.id))
    assert world.store.items == {}


async def test_update_with_the_current_version_bumps_it_and_announces_the_change(world):
    ada = await world.register()
    item = await _create(world, ada)
    world.clock.advance(5)
    updated = await UpdateItemHandler(world.uow, world.clock)(
        UpdateItem(ada, item.id, description="new", expected_versions=frozenset({1}))
    )
    assert (updated.version, updated.description) == (2, "new")
    assert updated.updated_at > updated.created_at
    assert world.publisher.events[-1].name == "item.updated"


async def test_update_with_a_stale_version_fails_and_changes_nothing(world):
    ada = await world.register()
    item = await _create(world, ada)
    with pytest.raises(PreconditionFailed):
        await UpdateItemHandler(world.uow, world.clock)(
            UpdateItem(ada, item.id, title="late", expected_versions=frozenset({3}))
        )
    assert world.store.items[item.id].title == "first"
    assert [e.name for e in world.publisher.events] == ["item.created"]


async def test_concurrent_updates_at_one_version_have_exactly_one_winner(world):
    ada = await world.register()
    item = await _create(world, ada)
    handler = UpdateItemHandler(world.uow, world.clock)
    results = await asyncio.gather(
        *(
            handler(UpdateItem(ada, item.id, title=f"t{n}", expected_versions=frozenset({1})))
            for n in range(2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ItemView", "PreconditionFailed"]
    assert world.store.items[item.id].version == 2


async def test_delete_removes_the_item_and_announces_it(world):
    ada = await world.register()
    item = await _create(world, ada)
    await DeleteItemHandler(world.uow, world.clock)(DeleteItem(ada, item.id))
    assert world.store.items == {}
    assert world.publisher.events[-1].name == "item.deleted"
    assert world.publisher.events[-1].item.id == item.id


async def test_list_pages_the_callers_own_items_oldest_first_with_a_total(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    for n in range(5):
        world.clock.advance(1)
        await _create(world, ada, f"a{n}")
    await _create(world, bob, "theirs")
    page = await ListItemsHandler(world.uow)(ListItems(ada, skip=1, limit=2))
    assert [i.title for i in page.items] == ["a1", "a2"] and page.total == 5


@pytest.mark.parametrize(("skip", "limit"), [(-1, 10), (0, 0), (0, 101)])
def test_out_of_range_pages_are_refused(world, skip, limit):
    with pytest.raises(InvalidPage):
        ListItems(world, skip=skip, limit=limit)


async def test_cursor_pages_walk_every_own_item_once_by_id(world):
    ada = await world.register()
    created = [await _create(world, ada, f"i{n}") for n in range(7)]
    handler, seen, cursor = ListItemsByCursorHandler(world.uow, world.cursors), [], None
    while True:
        page = await handler(ListItemsByCursor(ada, cursor, limit=3))
        seen += [i.id for i in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(i.id for i in created)


async def test_a_tampered_or_foreign_cursor_is_refused(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    for n in range(3):
        await _create(world, ada, f"i{n}")
    handler = ListItemsByCursorHandler(world.uow, world.cursors)
    cursor = (await handler(ListItemsByCursor(ada, None, limit=1))).next_cursor
    assert cursor is not None
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for bad, actor in [(cursor, bob), (tampered, ada), ("!!!", ada), ("", ada)]:
        with pytest.raises(InvalidCursor):
            await handler(ListItemsByCursor(actor, bad, limit=1))


async def test_a_read_right_after_a_write_sees_the_new_version_through_the_cache(world):
    ada = await world.register()
    item = await _create(world, ada)
    get = GetItemHandler(world.uow, world.cache)
    assert (await get(GetItem(ada, item.id))).version == 1
    await UpdateItemHandler(world.uow, world.clock)(UpdateItem(ada, item.id, title="v2"))
    assert (await get(GetItem(ada, item.id))).title == "v2"
    await DeleteItemHandler(world.uow, world.clock)(DeleteItem(ada, item.id))
    with pytest.raises(ItemNotFound):
        await get(GetItem(ada, item.id))


async def test_a_cached_item_is_still_refused_to_other_users(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    item = await _create(world, ada)
    get = GetItemHandler(world.uow, world.cache)
    await get(GetItem(ada, item.id))
    assert world.cache.hits + world.cache.misses > 0
    with pytest.raises(ItemNotFound):
        await get(GetItem(bob, item.id))


async def test_an_older_copy_never_replaces_a_newer_one_in_the_cache(world):
    ada = await world.register()
    item = await _create(world, ada)
    updated = await UpdateItemHandler(world.uow, world.clock)(UpdateItem(ada, item.id, title="n"))
    await world.cache.put(item)  # a slow reader finishing late with version 1
    assert (await world.cache.get(item.id)).version == updated.version


async def test_an_unconditional_update_racing_another_is_applied_to_the_newer_version(world):
    ada = await world.register()
    item = await _create(world, ada)
    handler = UpdateItemHandler(world.uow, world.clock)
    results = await asyncio.gather(
        handler(UpdateItem(ada, item.id, title="one")),
        handler(UpdateItem(ada, item.id, description="two")),
    )
    assert sorted(r.version for r in results) == [2, 3]
    stored = world.store.items[item.id]
    assert (stored.title, stored.description, stored.version) == ("one", "two", 3)


async def test_a_change_heard_from_another_process_replaces_the_cached_copy(world):
    ada = await world.register()
    item = await _create(world, ada)
    get = GetItemHandler(world.uow, world.cache)
    await get(GetItem(ada, item.id))  # version 1 is cached
    stored = world.store.items[item.id].snapshot()
    elsewhere = replace(stored, title="changed elsewhere", version=2)
    await CacheUpdater(world.cache).apply(ItemUpdated(elsewhere, world.clock.now()))
    assert (await get(GetItem(ada, item.id))).title == "changed elsewhere"
    await CacheUpdater(world.cache).apply(ItemDeleted(elsewhere, world.clock.now()))
    await world.cache.put(item)  # a slow reader finishing late with version 1
    assert await world.cache.get(item.id) is None


def test_the_view_of_an_item_equals_the_view_of_its_snapshot_and_is_not_the_snapshot(world):
    now = world.clock.now()
    item = Item.create(
        item_id=new_id(now), owner_id=new_id(now), title="t", description="d", now=now
    )
    view = ItemView.of(item)
    assert view == ItemView.of(item.snapshot())
    assert type(view) is ItemView and not isinstance(view, ItemSnapshot)
    assert dataclasses.asdict(view) == dataclasses.asdict(item.snapshot())


async def test_every_item_use_case_hands_out_read_views_never_domain_values(world):
    ada = await world.register()
    created = await _create(world, ada)
    read = await GetItemHandler(world.uow, world.cache)(GetItem(ada, created.id))
    update = UpdateItemHandler(world.uow, world.clock)
    changed = await update(UpdateItem(ada, created.id, title="n"))
    page = await ListItemsHandler(world.uow)(ListItems(ada))
    by_cursor = await ListItemsByCursorHandler(world.uow, world.cursors)(ListItemsByCursor(ada))
    views = [created, read, changed, *page.items, *by_cursor.items]
    assert {type(view) for view in views} == {ItemView}


async def test_a_cache_hit_hands_out_the_cached_view_itself_converting_nothing(world):
    ada = await world.register()
    item = await _create(world, ada)  # written through to the cache as its view
    cached = await world.cache.get(item.id)
    assert type(cached) is ItemView and cached == item
    assert await GetItemHandler(world.uow, world.cache)(GetItem(ada, item.id)) is cached
