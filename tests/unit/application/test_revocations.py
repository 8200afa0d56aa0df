"""The mirrored denylist: durable first, this process's copy checked, kept exact by events;
the database while the copy may be incomplete."""

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
from application.resilience.denylist_mirror import MirroredDenylist
from domain.events import AccessRevoked, UserChanged


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

    down = False

    async def active(self):
        self.listings += 1
        await self.listing_may_finish.wait()
        if self.down:
            raise DependencyUnavailable("database down")
        return list(self.entries)


TTL = 900


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
async def stores(clock):
    """A durable store, a copy, and the mirror over them, hearing events (loaded)."""
    durable, copy = DurableFake(clock), InMemoryTokenDenylist(clock)
    denylist = MirroredDenylist(durable, copy, clock, TTL)
    await denylist.link_up(after_loss=False)
    await _settled(denylist)
    yield durable, copy, denylist
    await denylist.close()


async def _settled(denylist: MirroredDenylist) -> None:
    for _ in range(100):
        await asyncio.sleep(0)
        if denylist.complete:
            return


def _claims(clock, user_id=None, *, issued_offset=0.0):
    now = clock.now() + timedelta(seconds=issued_offset)
    return AccessClaims(user_id or uuid4(), uuid4().hex, now, now + timedelta(seconds=TTL))


async def test_checks_ask_this_processs_copy_not_the_database(stores, clock):
    durable, _, denylist = stores
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    assert await denylist.is_revoked(token)
    assert not await denylist.is_revoked(_claims(clock))
    assert durable.checks == 0


async def test_a_revocation_is_durable_before_it_is_copied(stores, clock):
    durable, copy, denylist = stores
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    assert [entry.token_id for entry in durable.entries] == [token.token_id]
    assert await copy.is_revoked(token)


async def test_a_revocation_heard_from_another_process_is_honoured_at_once(stores, clock):
    durable, _, denylist = stores
    token = _claims(clock, issued_offset=-1)
    user = uuid4()
    older, kept = _claims(clock, user, issued_offset=-1), _claims(clock, user, issued_offset=-2)
    await denylist.hear(AccessRevoked(token.user_id, clock.now(), token_id=token.token_id))
    await denylist.hear(AccessRevoked(user, clock.now(), keep_token_id=kept.token_id))
    await denylist.hear(UserChanged(uuid4(), clock.now()))  # not a revocation: ignored
    assert await denylist.is_revoked(token)
    assert await denylist.is_revoked(older)
    assert not await denylist.is_revoked(kept)
    assert not await denylist.is_revoked(_claims(clock, user, issued_offset=0.001))
    assert durable.checks == 0


async def test_a_heard_token_revocation_outlasts_the_token(stores, clock):
    _, _, denylist = stores
    token = _claims(clock)
    await denylist.hear(AccessRevoked(token.user_id, clock.now(), token_id=token.token_id))
    clock.advance(TTL - 1)
    assert await denylist.is_revoked(token)


async def test_until_events_are_heard_checks_ask_the_database(clock):
    durable = DurableFake(clock)
    denylist = MirroredDenylist(durable, InMemoryTokenDenylist(clock), clock, TTL)
    token = _claims(clock)
    await denylist.revoke_token(token.token_id, token.expires_at)
    await denylist.reload()  # loaded, but revocations made elsewhere could not be heard yet
    assert not denylist.complete
    assert await denylist.is_revoked(token)
    assert durable.checks == 1


async def test_while_the_bus_is_down_checks_ask_the_database_and_the_copy_is_reloaded_after(
    stores, clock
):
    durable, _, denylist = stores
    denylist.link_down()
    elsewhere = _claims(clock, issued_offset=-1)  # revoked by another process meanwhile, unheard
    durable.entries.append(Revocation(elsewhere.expires_at, token_id=elsewhere.token_id))
    await DurableFake.revoke_token(durable, elsewhere.token_id, elsewhere.expires_at)
    assert await denylist.is_revoked(elsewhere)
    assert durable.checks == 1
    await denylist.link_up(after_loss=True)
    await _settled(denylist)
    assert denylist.complete
    assert await denylist.is_revoked(elsewhere)
    assert durable.checks == 1  # answered from the reloaded copy


async def test_a_reload_never_runs_inside_a_check(stores, clock):
    durable, _, denylist = stores
    denylist.link_down()
    durable.listing_may_finish.clear()
    await denylist.link_up(after_loss=True)
    token = _claims(clock)
    checks = await asyncio.gather(*(denylist.is_revoked(token) for _ in range(5)))
    assert checks == [False] * 5  # answered by the database while the reload waits
    assert (durable.listings, durable.checks) == (2, 5)
    durable.listing_may_finish.set()
    await _settled(denylist)
    assert denylist.complete


async def test_a_reload_that_may_have_missed_a_revocation_does_not_complete_the_copy(stores, clock):
    durable, _, denylist = stores
    denylist.link_down()
    durable.listing_may_finish.clear()
    await denylist.link_up(after_loss=True)
    await asyncio.sleep(0)
    denylist.link_down()  # the bus dropped again while the reload was reading
    durable.listing_may_finish.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not denylist.complete
    await denylist.link_up(after_loss=True)
    await _settled(denylist)
    assert denylist.complete


async def test_a_reload_while_the_database_is_down_retries_until_it_is_back(stores, clock):
    durable, _, denylist = stores
    denylist.link_down()
    durable.down = True
    await denylist.link_up(after_loss=True)
    await asyncio.sleep(0.01)
    assert not denylist.complete
    durable.down = False
    for _ in range(150):
        await asyncio.sleep(0.01)
        if denylist.complete:
            break
    assert denylist.complete


async def test_a_restart_loads_earlier_revocations_into_the_fresh_copy(clock):
    durable = DurableFake(clock)
    token = _claims(clock)
    first = MirroredDenylist(durable, InMemoryTokenDenylist(clock), clock, TTL)
    await first.revoke_token(token.token_id, token.expires_at)
    restarted = MirroredDenylist(durable, InMemoryTokenDenylist(clock), clock, TTL)
    await restarted.link_up(after_loss=False)
    await _settled(restarted)
    assert restarted.complete
    assert await restarted.is_revoked(token)
    assert durable.checks == 0


async def test_the_periodic_merge_brings_in_a_revocation_whose_event_was_lost(clock):
    durable = DurableFake(clock)
    denylist = MirroredDenylist(durable, InMemoryTokenDenylist(clock), clock, TTL, 0.01)
    await denylist.link_up(after_loss=False)
    await denylist.start()
    await _settled(denylist)
    lost = _claims(clock)
    await DurableFake.revoke_token(durable, lost.token_id, lost.expires_at)  # no event
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if durable.listings > 2:
                break
        assert await denylist.is_revoked(lost)
        assert durable.checks == 0
    finally:
        await denylist.close()


async def test_a_restart_loads_session_revocations_too(clock):
    durable = DurableFake(clock)
    session = uuid4()
    token = AccessClaims(uuid4(), uuid4().hex, clock.now(), clock.now(), session)
    await durable.revoke_session(session, clock.now() + timedelta(seconds=TTL))
    durable.entries.append(Revocation(clock.now() + timedelta(seconds=TTL), session_id=session))
    restarted = MirroredDenylist(durable, InMemoryTokenDenylist(clock), clock, TTL)
    await restarted.link_up(after_loss=False)
    await _settled(restarted)
    assert await restarted.is_revoked(token)
    assert durable.checks == 0
