"""IdempotencyRecords: one record per key, written with the change, on every adapter alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.memory.clock import FrozenClock
from application.dto import Actor
from application.errors import IdempotencyKeyInUse
from application.idempotency import IdempotencyKey
from application.ports.types import UnitOfWorkFactory
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from application.use_cases.items.create_item import CreateItem, CreateItemHandler
from tests.contract.builders import START, a_user, at, committed
from tests.contract.test_concurrency_contract import RendezvousHasher

SCOPE, KEY = "user:ada", "8e03978e-40d5-43e8-bc93-6894a57f9324"
LATER = START + timedelta(hours=24)
LATER_STILL = LATER + timedelta(hours=24)


async def _record(
    uow_factory: UnitOfWorkFactory, key: str = KEY, *, result: str = '{"id":1}', scope: str = SCOPE
) -> None:
    """Claim and complete a record, expiring at LATER, in a committed unit of work."""
    async with uow_factory() as uow:
        await uow.idempotency.claim(scope, key, "fp", now=START, expires_at=LATER)
        await uow.idempotency.complete(scope, key, result)
        await uow.commit()


async def test_a_completed_record_is_found_once_committed(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.idempotency.find(SCOPE, KEY, START) is None
    await _record(uow_factory)

    async with uow_factory() as uow:
        found = await uow.idempotency.find(SCOPE, KEY, at(1))
    assert found is not None
    assert (found.fingerprint, found.result, found.expires_at) == ("fp", '{"id":1}', LATER)


async def test_a_claim_is_found_only_once_completed(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.idempotency.claim(SCOPE, KEY, "fp", now=START, expires_at=LATER)
        assert await uow.idempotency.find(SCOPE, KEY, START) is None
        await uow.idempotency.complete(SCOPE, KEY, "r")
        assert (await uow.idempotency.find(SCOPE, KEY, START)) is not None


async def test_a_record_that_was_not_committed_leaves_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.idempotency.claim(SCOPE, KEY, "fp", now=START, expires_at=LATER)
        await uow.idempotency.complete(SCOPE, KEY, "r")
    async with uow_factory() as uow:
        assert await uow.idempotency.find(SCOPE, KEY, START) is None
        await uow.idempotency.claim(SCOPE, KEY, "fp", now=START, expires_at=LATER)


async def test_a_live_key_cannot_be_claimed_again_and_the_unit_of_work_stays_usable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _record(uow_factory)
    owner = a_user()
    async with uow_factory() as uow:
        with pytest.raises(IdempotencyKeyInUse):
            await uow.idempotency.claim(SCOPE, KEY, "other", now=at(1), expires_at=LATER)
        found = await uow.idempotency.find(SCOPE, KEY, at(1))
        await uow.users.add(owner)
        await uow.commit()
    assert found is not None and found.fingerprint == "fp"
    async with uow_factory() as uow:
        assert await uow.users.get(owner.id) is not None


async def test_keys_are_unique_within_their_scope_only(uow_factory: UnitOfWorkFactory) -> None:
    await _record(uow_factory, result="ada's")
    await _record(uow_factory, result="bob's", scope="user:bob")

    async with uow_factory() as uow:
        ada = await uow.idempotency.find(SCOPE, KEY, START)
        bob = await uow.idempotency.find("user:bob", KEY, START)
    assert (ada and ada.result, bob and bob.result) == ("ada's", "bob's")


async def test_an_expired_record_is_not_found_and_its_key_can_be_claimed_anew(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _record(uow_factory)
    async with uow_factory() as uow:
        assert await uow.idempotency.find(SCOPE, KEY, LATER) is None
        await uow.idempotency.claim(SCOPE, KEY, "new", now=LATER, expires_at=LATER_STILL)
        await uow.idempotency.complete(SCOPE, KEY, "second")
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.idempotency.find(SCOPE, KEY, LATER)
    assert found is not None and (found.fingerprint, found.result) == ("new", "second")


async def test_purging_removes_expired_records_only_and_at_most_the_limit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    for n in range(3):
        await _record(uow_factory, f"old-{n}")
    async with uow_factory() as uow:
        await uow.idempotency.claim(SCOPE, "live", "fp", now=LATER, expires_at=LATER_STILL)
        await uow.idempotency.complete(SCOPE, "live", "r")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.idempotency.purge_expired(LATER, limit=2) == 2
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.idempotency.purge_expired(LATER, limit=100) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.idempotency.purge_expired(LATER, limit=100) == 0
        assert await uow.idempotency.find(SCOPE, "live", LATER) is not None


@pytest.mark.parametrize("first_commits", [True, False], ids=["commits", "rolls-back"])
async def test_a_concurrent_claim_waits_for_the_first_then_fails_only_if_it_committed(
    uow_factory: UnitOfWorkFactory, first_commits: bool
) -> None:
    async def second() -> str:
        async with uow_factory() as uow:
            try:
                await uow.idempotency.claim(SCOPE, KEY, "fp2", now=START, expires_at=LATER)
            except IdempotencyKeyInUse:
                found = await uow.idempotency.find(SCOPE, KEY, START)
                return f"in use: {found and found.result}"
            return "claimed"

    async with uow_factory() as first:
        await first.idempotency.claim(SCOPE, KEY, "fp1", now=START, expires_at=LATER)
        await first.idempotency.complete(SCOPE, KEY, "first")
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # held by the first claim
        if first_commits:
            await first.commit()
    assert await waiting == ("in use: first" if first_commits else "claimed")


async def test_concurrent_registrations_with_one_key_make_one_account_and_one_answer(
    uow_factory: UnitOfWorkFactory,
) -> None:
    register = RegisterUserHandler(uow_factory, RendezvousHasher(), FrozenClock())
    key = IdempotencyKey(KEY, "fp")
    command = RegisterUser("race@example.com", "correct horse", idempotency_key=key)

    first, second = await asyncio.gather(register(command), register(command))

    assert first == second
    async with uow_factory() as uow:
        assert await uow.users.count() == 1


async def test_ten_concurrent_creations_with_one_key_make_one_item(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    create = CreateItemHandler(uow_factory, FrozenClock())
    command = CreateItem(Actor(owner.id, False), "Once", idempotency_key=IdempotencyKey(KEY, "fp"))

    views = await asyncio.gather(*(create(command) for _ in range(10)))

    assert len(set(views)) == 1
    async with uow_factory() as uow:
        assert await uow.items.count_for_owner(owner.id) == 1
