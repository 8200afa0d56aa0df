"""An owner's item count is exact on every adapter: through rollbacks, batches and races."""

from __future__ import annotations

import asyncio
import random

from adapters.memory.clock import FrozenClock
from adapters.memory.sessions import InMemoryTokenDenylist
from application.dto import Actor
from application.ports.types import UnitOfWorkFactory
from application.services.revocation import SessionRevoker
from application.use_cases.users.delete_user import BATCH, DeleteUser, DeleteUserHandler
from domain.users import User
from tests.contract.builders import a_user, an_item, committed

WORKERS = 8
CREATES_PER_WORKER = 15


async def _count_and_items(uow_factory: UnitOfWorkFactory, owner: User) -> tuple[int, int]:
    """The count the repository keeps, and how many of the owner's items there really are."""
    async with uow_factory() as uow:
        count = await uow.items.count_for_owner(owner.id)
        listed = [item async for item in uow.items.stream_for_owner(owner.id)]
    return count, len(listed)


async def test_a_new_user_has_no_items_and_the_count_follows_adds_and_deletes(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = a_user(), a_user("bob@example.com")
    await committed(uow_factory, owner, other)
    assert await _count_and_items(uow_factory, owner) == (0, 0)
    first, second, third = (an_item(owner, second=n) for n in range(3))
    await committed(uow_factory, first, second, third, an_item(other))
    async with uow_factory() as uow:
        await uow.items.delete(second)
        await uow.commit()
    assert await _count_and_items(uow_factory, owner) == (2, 2)
    assert await _count_and_items(uow_factory, other) == (1, 1)


async def test_a_page_comes_with_the_owners_total_even_past_the_last_item(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other, idle = a_user(), a_user("bob@example.com"), a_user("eve@example.com")
    owned = [an_item(owner, second=n) for n in range(5)]
    await committed(uow_factory, owner, other, idle, *owned, an_item(other))
    async with uow_factory() as uow:
        first = await uow.items.list_for_owner_with_total(owner.id, skip=0, limit=3)
        last = await uow.items.list_for_owner_with_total(owner.id, skip=3, limit=3)
        beyond = await uow.items.list_for_owner_with_total(owner.id, skip=5, limit=3)
        nothing = await uow.items.list_for_owner_with_total(idle.id, skip=0, limit=3)
    assert [([i.id for i in page], total) for page, total in (first, last, beyond, nothing)] == [
        ([i.id for i in owned[:3]], 5),
        ([i.id for i in owned[3:]], 5),
        ([], 5),
        ([], 0),
    ]


async def test_a_rolled_back_add_or_delete_leaves_the_count_as_it_was(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    kept = an_item(owner)
    await committed(uow_factory, owner, kept)
    async with uow_factory() as uow:
        await uow.items.add(an_item(owner, second=1))
        await uow.items.delete(kept)
        assert await uow.items.count_for_owner(owner.id) == 1  # its own changes, uncommitted
    assert await _count_and_items(uow_factory, owner) == (1, 1)


async def test_deleting_items_in_batches_keeps_the_count_exact_after_each_batch(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    await committed(uow_factory, owner, *(an_item(owner, second=n) for n in range(BATCH + 50)))
    left = BATCH + 50
    while left:
        async with uow_factory() as uow:
            batch = await uow.items.list_for_owner(owner.id, skip=0, limit=BATCH)
            for item in batch:
                await uow.items.delete(item)
            await uow.commit()
        left -= len(batch)
        assert await _count_and_items(uow_factory, owner) == (left, left)


async def test_deleting_a_user_with_many_items_leaves_other_counts_alone(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner, other = a_user(), a_user("bob@example.com")
    await committed(uow_factory, owner, other, an_item(other))
    await committed(uow_factory, *(an_item(owner, second=n) for n in range(BATCH + 10)))
    clock = FrozenClock()
    revoker = SessionRevoker(InMemoryTokenDenylist(clock), clock, 900)
    delete = DeleteUserHandler(uow_factory, revoker, clock)
    await delete(DeleteUser(Actor(owner.id, is_superuser=False)))
    assert await _count_and_items(uow_factory, owner) == (0, 0)
    assert await _count_and_items(uow_factory, other) == (1, 1)


async def test_concurrent_creates_and_deletes_of_one_owner_keep_the_count_exact(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Creators add items while deleters remove the first ones, several racing for each."""
    owner = a_user()
    doomed = [an_item(owner, second=n) for n in range(40)]
    await committed(uow_factory, owner, *doomed)

    async def creator(n: int) -> None:
        for k in range(CREATES_PER_WORKER):
            async with uow_factory() as uow:
                await uow.items.add(an_item(owner, f"{n}.{k}", second=100 + k))
                await uow.commit()

    async def deleter(seed: int) -> None:
        for item in random.Random(seed).sample(doomed, len(doomed)):
            async with uow_factory() as uow:
                found = await uow.items.get(item.id)
                if found is not None:
                    await uow.items.delete(found)
                    await uow.commit()

    await asyncio.gather(
        *(creator(n) for n in range(WORKERS)), *(deleter(n) for n in range(WORKERS))
    )
    created = WORKERS * CREATES_PER_WORKER
    assert await _count_and_items(uow_factory, owner) == (created, created)
