"""The mirrored denylist: durable first, fast copy checked, database while the copy is down."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from adapters.memory.clock import FrozenClock
from adapters.memory.sessions import InMemoryTokenDenylist
from application.errors import DependencyUnavailable
from application.ports import AccessClaims
from application.ports.sessions import Revocation
from application.revocations import RETRY_SECONDS, MirroredDenylist


class DurableFake(InMemoryTokenDenylist):
    """An in-memory denylist that also lists its entries, like the database's."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__(clock)
        self.entries: list[Revocation] = []
        self.checks = self.listings = 0
        self.listing_may_finish = asyncio.Event()
        self.listing_may_finish.set()

    async def revoke_token(self, token_id, expires_at):
        self.entries.append(Revocation(expires_at, token_id=token_id))
        await super().revoke_token(token_id, expires_at)

    async def revoke_user(self, user_id, issued_before, *, keep_token_id, ttl_seconds):
        expires = self._clock.now() + timedelta(seconds=ttl_seconds)
        self.entries.append(Revocation(expires, None, user_id, issued_before, keep_token_id))
        await super().revoke_user(
            user_id, issued_before, keep_token_id=keep_token_id, ttl_seconds=ttl_seconds
        )

    async def is_revoked(self, claims):
        self.checks += 1
        return await super().is_revoked(claims)

    async def active(self):
        self.listings += 1
        await self.listing_may_finish.wait()
        return list(self.entries)


class FlakyFast(InMemoryTokenDenylist):
    """A fast store that can be switched off (and loses everything when it is)."""

    down = False
    checks = 0

    def _guard(self):
        if self.down:
            raise DependencyUnavailable("fast store down")

    async def revoke_token(self, token_id, expires_at):
        self._guard()
        await super().revoke_token(token_id, expires_at)

    async def revoke_user(self, *args, **kwargs):
        self._guard()
        await super().revoke_user(*args, **kwargs)

    async def is_revoked(self, claims):
        self.checks += 1
        self._guard()
        return await super().is_revoked(claims)

    def crash(self):
        self.down = True
        self.__init__(self._clock)  # type: ignore[misc]
        self.down = True


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def stores(clock):
    durable, fast = DurableFake(clock), FlakyFast(clock)
    return durable, fast, MirroredDenylist(durable, fast, clock)


def _claims(clock, user_id=None):
    now = clock.now()
    return AccessClaims(user_id or uuid4(), uuid4().hex, now, now + timedelta(seconds=900))


async def test_checks_ask_the_fast_store_not_the_database(stores, clock):
    durable, _, denylist = stores
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    assert await denylist.is_revoked(token)
    assert durable.checks == 0


async def test_a_revocation_made_while_the_fast_store_is_down_is_still_honoured(stores, clock):
    durable, fast, denylist = stores
    fast.down = True
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    assert await denylist.is_revoked(token)
    assert durable.checks == 1


async def test_after_an_outage_the_fast_store_is_refilled_before_it_is_trusted(stores, clock):
    durable, fast, denylist = stores
    user, token = uuid4(), _claims(clock)
    fast.crash()  # Redis restarted empty
    await denylist.revoke_token(token.token_id, token.expires_at)
    clock.advance(1)
    await denylist.revoke_user(user, clock.now(), keep_token_id=None, ttl_seconds=900)
    earlier = _claims(FrozenClock(clock.now() - timedelta(seconds=1)), user)
    fast.down = False
    clock.advance(RETRY_SECONDS)  # checks leave a failed fast store alone until then
    assert await denylist.is_revoked(token)
    assert await fast.is_revoked(token)
    assert await denylist.is_revoked(earlier)
    assert durable.checks == 0


async def test_a_restart_loads_earlier_revocations_into_the_fresh_fast_store(clock):
    durable = DurableFake(clock)
    token = _claims(clock)
    await MirroredDenylist(durable, FlakyFast(clock), clock).revoke_token(
        token.token_id, token.expires_at
    )
    restarted = MirroredDenylist(durable, FlakyFast(clock), clock)
    await restarted.refill()
    assert await restarted.is_revoked(token)


async def test_concurrent_checks_while_incomplete_start_one_refill_and_ask_the_database(
    stores, clock
):
    durable, _, denylist = stores
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    denylist.link_down()
    durable.listing_may_finish.clear()
    checks = [asyncio.create_task(denylist.is_revoked(token)) for _ in range(5)]
    await asyncio.sleep(0)
    assert durable.listings == 1
    assert durable.checks == 4  # the others did not wait for the refill
    durable.listing_may_finish.set()
    assert await asyncio.gather(*checks) == [True] * 5
    assert await denylist.is_revoked(token)
    assert (durable.listings, durable.checks) == (1, 4)


async def test_after_a_fast_failure_checks_skip_it_until_the_retry_interval(stores, clock):
    durable, fast, denylist = stores
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    assert await denylist.is_revoked(token)
    fast.down = True
    assert await denylist.is_revoked(token)  # tried the fast store, then the database
    tried = fast.checks
    clock.advance(RETRY_SECONDS / 2)
    fast.down = False
    assert await denylist.is_revoked(token)
    assert await denylist.is_revoked(token)
    assert (fast.checks, durable.checks) == (tried, 3)
    clock.advance(RETRY_SECONDS / 2)
    assert await denylist.is_revoked(token)  # refilled, then asked again
    assert (fast.checks, durable.checks, durable.listings) == (tried + 1, 3, 2)


async def test_a_refill_that_may_have_missed_a_loss_leaves_the_fast_store_untrusted(stores, clock):
    durable, _, denylist = stores
    durable.listing_may_finish.clear()
    refill = asyncio.create_task(denylist.refill())
    await asyncio.sleep(0)
    denylist.link_down()  # e.g. Redis restarted while the refill was copying
    durable.listing_may_finish.set()
    await refill
    assert await denylist.is_revoked(_claims(clock)) is False
    assert durable.listings == 2  # the check refilled again before trusting the fast store
