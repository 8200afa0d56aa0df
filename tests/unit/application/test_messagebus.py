"""The message bus: what runs after a commit, what is written to the outbox, and when."""

from typing import get_args

import pytest

from application.errors import EmailAlreadyRegistered, PreconditionFailed
from application.messagebus import Durable, reactions
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from application.use_cases.items.update_item import UpdateItem, UpdateItemHandler
from application.use_cases.users.administer_user import AdministerUser, AdministerUserHandler
from domain.events import (
    AccessRevoked,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEvent,
    ItemUpdated,
    UserChanged,
    UserRegistered,
)
from tests.unit.application.test_items import _create


def test_every_domain_event_has_an_entry_in_the_table_and_job_kinds_are_unique(world):
    table = reactions(world.handlers)
    kinds_of_event = {ItemCreated, ItemUpdated, ItemDeleted} | set(get_args(DomainEvent)) - {
        ItemEvent
    }
    assert kinds_of_event <= set(table)
    kinds = [r.kind for entries in table.values() for r in entries if isinstance(r, Durable)]
    assert len(kinds) == len(set(kinds))


async def test_an_item_update_reaches_the_cache_and_live_connections_after_commit(world):
    ada = await world.register()
    item = await _create(world, ada)
    world.live.dispatched.clear()
    await UpdateItemHandler(world.uow, world.clock)(UpdateItem(ada, item.id, title="second"))
    [event] = world.live.dispatched
    assert isinstance(event, ItemUpdated) and event.item.title == "second"
    cached = await world.cache.get(item.id)
    assert cached is not None and cached.version == 2


async def test_a_change_that_does_not_commit_reaches_no_handler(world):
    ada = await world.register()
    item = await _create(world, ada)
    world.live.dispatched.clear()
    with pytest.raises(PreconditionFailed):
        await UpdateItemHandler(world.uow, world.clock)(
            UpdateItem(ada, item.id, title="second", expected_versions=frozenset({7}))
        )
    assert world.live.dispatched == []


async def test_an_admin_renaming_a_user_closes_none_of_their_connections(world):
    root = await world.register("root@example.com", superuser=True)
    ada = await world.register("ada@example.com")
    world.live.dispatched.clear()
    await AdministerUserHandler(world.uow, world.revoker, world.clock)(
        AdministerUser(root, ada.user_id, full_name="Ada L.")
    )
    assert world.live.dispatched == []


async def test_deactivating_a_user_announces_the_revocation_and_the_change(world):
    root = await world.register("root@example.com", superuser=True)
    ada = await world.register("ada@example.com")
    world.live.dispatched.clear()
    await AdministerUserHandler(world.uow, world.revoker, world.clock)(
        AdministerUser(root, ada.user_id, is_active=False)
    )
    assert [type(e) for e in world.live.dispatched] == [AccessRevoked, UserChanged], (
        world.live.dispatched
    )
    assert {e.user_id for e in world.live.dispatched} == {ada.user_id}  # type: ignore[union-attr]


async def test_registering_writes_a_welcome_job_with_the_account_and_publishes_nothing(world):
    await world.register("grace@example.com")
    [job] = await world.jobs.list(state="waiting", limit=10)
    assert (job.kind, job.payload["email"]) == ("mail.welcome", "grace@example.com")
    assert not any(isinstance(e, UserRegistered) for e in world.publisher.events)


async def test_a_refused_registration_writes_no_job(world):
    await world.register("grace@example.com")
    with pytest.raises(EmailAlreadyRegistered):
        await RegisterUserHandler(world.uow, world.hasher, world.clock)(
            RegisterUser("GRACE@example.com", "correct horse")
        )
    assert len(await world.jobs.list(state=None, limit=10)) == 1
