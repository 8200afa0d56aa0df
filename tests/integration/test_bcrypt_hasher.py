"""The bcrypt adapter's queue: a bounded wait, refusals at once past it, and room kept free
for the work that does not give way."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest

from adapters.bcrypt.hasher import BcryptPasswordHasher
from application.errors import Overloaded
from domain.users import Password

ROUNDS = 8  # tens of milliseconds per hash: long enough to queue behind
PASSWORD = "correct horse battery"


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt-test")
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def _stored() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS)).decode()


async def _timed_outcomes(hasher: BcryptPasswordHasher, count: int) -> list[tuple[str, float]]:
    """Verify `count` times at once; each outcome with the seconds it took."""
    stored = _stored()

    async def one() -> tuple[str, float]:
        started = time.perf_counter()
        try:
            outcome = "verified" if await hasher.verify(PASSWORD, stored) else "wrong"
        except Overloaded:
            outcome = "refused"
        return outcome, time.perf_counter() - started

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _outcomes(hasher: BcryptPasswordHasher, count: int) -> list[str]:
    return [outcome for outcome, _ in await _timed_outcomes(hasher, count)]


async def test_past_the_queue_hashes_are_refused_at_once_instead_of_waiting(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=2)

    timed = await _timed_outcomes(hasher, 8)

    outcomes = [outcome for outcome, _ in timed]
    assert outcomes.count("verified") == 3  # one on the thread, two waiting
    assert outcomes.count("refused") == 5
    slowest_refusal = max(took for outcome, took in timed if outcome == "refused")
    fastest_hash = min(took for outcome, took in timed if outcome == "verified")
    assert slowest_refusal < fastest_hash / 2  # a refusal waits for no hash


async def test_work_that_gives_way_leaves_half_the_queue_to_the_rest(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=4)
    giving_way = hasher.lower_priority()

    flood = await asyncio.gather(_outcomes(giving_way, 8), _outcomes(hasher, 2))

    assert flood[0].count("verified") == 3  # one on the thread, two of the four places
    assert flood[1] == ["verified", "verified"]  # the other two places were kept free


async def test_work_that_gives_way_waits_behind_every_other_hash(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=4)
    giving_way, stored, finished = hasher.lower_priority(), _stored(), []

    async def verify(which: BcryptPasswordHasher, name: str) -> None:
        await which.verify(PASSWORD, stored)
        finished.append(name)

    await asyncio.gather(
        verify(giving_way, "first, on the thread"),
        verify(giving_way, "gives way"),
        verify(hasher, "came later"),
    )

    assert finished == ["first, on the thread", "came later", "gives way"]


async def test_work_passed_over_for_longer_than_a_queue_takes_is_refused(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=4)
    stored, until = _stored(), time.monotonic() + 2.0

    async def keep_hashing() -> None:  # the first lane is never empty meanwhile
        while time.monotonic() < until:
            await hasher.verify(PASSWORD, stored)

    feeders = [asyncio.create_task(keep_hashing()) for _ in range(2)]  # one on it, one waits
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await hasher.lower_priority().verify(PASSWORD, stored)
    waited = time.monotonic() - started
    await asyncio.gather(*feeders)

    assert 0.9 < waited < 1.8


async def test_a_caller_that_stops_waiting_gives_its_place_back(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=2)
    stored = _stored()
    tasks = [asyncio.create_task(hasher.verify(PASSWORD, stored)) for _ in range(3)]
    await asyncio.sleep(0.001)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.2)  # the one a thread had taken finishes

    assert await _outcomes(hasher, 3) == ["verified"] * 3


async def test_refusals_are_logged_once_per_interval_with_their_count(pool, caplog):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=1)
    caplog.set_level(logging.WARNING, logger="adapters.bcrypt.hasher")

    for _ in range(3):
        await _outcomes(hasher, 6)

    reports = [r for r in caplog.records if "bcrypt queue full" in r.getMessage()]
    assert len(reports) == 1


async def test_hash_and_dummy_verify_share_the_same_queue(pool):
    hasher = BcryptPasswordHasher(rounds=ROUNDS, executor=pool, max_waiting=1)
    await hasher.warm_up()

    results = await asyncio.gather(
        hasher.hash(Password(PASSWORD)),
        hasher.dummy_verify(PASSWORD),
        hasher.dummy_verify(PASSWORD),
        return_exceptions=True,
    )

    assert isinstance(results[0], str) and results[1] is None
    assert isinstance(results[2], Overloaded)
