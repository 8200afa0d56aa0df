"""The WebSocket hub: this process's live connections, fed item changes by the message bus.

An event is rendered once, then offered to each socket allowed to see it. Every socket has a
bounded queue: a slow client fills its own queue and is dropped (1013); nobody else waits.

Revocations close sockets as soon as they are heard; and since an event can be missed (the
bus lost Redis meanwhile), every socket also re-checks its token every `RECHECK_SECONDS`, and
at once when the bus is back after a loss.

Every close the service initiates says why in a short reason (RFC 6455 §7.1.6), so a client can
tell an expired token (refresh and reconnect) from a logout (sign in again): the `Close` values
below are the whole vocabulary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import orjson

from application.dto import ItemView
from domain.events import AccessRevoked, DomainEvent, ItemEvent, UserChanged

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
RECHECK_SECONDS = 5.0
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


@dataclass(frozen=True, slots=True)
class Close:
    """Why the service closes a socket: the close code and its reason (at most 123 bytes)."""

    code: int
    reason: str


AUTH_TIMEOUT = Close(POLICY_VIOLATION, "authentication timeout")
AUTH_EXPECTED = Close(POLICY_VIOLATION, "auth message expected")
INVALID_TOKEN = Close(POLICY_VIOLATION, "invalid token")
TOKEN_EXPIRED = Close(POLICY_VIOLATION, "token expired")
LOGGED_OUT = Close(POLICY_VIOLATION, "logged out")
ACCOUNT_CHANGED = Close(POLICY_VIOLATION, "account changed")
ACCOUNT_DEACTIVATED = Close(POLICY_VIOLATION, "account deactivated")
ACCOUNT_DELETED = Close(POLICY_VIOLATION, "account deleted")
ROLE_CHANGED = Close(POLICY_VIOLATION, "role changed")
TOO_SLOW = Close(TRY_AGAIN_LATER, "client too slow")
UNAVAILABLE = Close(TRY_AGAIN_LATER, "service unavailable")


@dataclass(eq=False)
class Subscription:
    """One authenticated socket's place in the hub: who it is and what waits to be sent."""

    user_id: UUID
    is_superuser: bool
    token_id: str
    expires_at: datetime | None
    session_id: UUID | None = None
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(256))
    closed_by: Close | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def may_see(self, event: ItemEvent) -> bool:
        """Owners see their items' events; superusers see everyone's."""
        return self.is_superuser or event.item.owner_id == self.user_id

    @property
    def close_code(self) -> int | None:
        """The code the socket is to be closed with, None while nobody asked."""
        return None if self.closed_by is None else self.closed_by.code

    def close(self, why: Close) -> None:
        """Ask the socket's task to close, saying `why` (the first reason wins)."""
        if self.closed_by is None:
            self.closed_by = why
        self.closed.set()


def render(event: ItemEvent) -> bytes:
    """The wire form of an item event (`type`, `item`, `occurred_at`)."""
    item = ItemView.of(event.item)  # the read model leaves, not the domain snapshot
    message = {"type": event.name, "item": item, "occurred_at": event.occurred_at}
    return orjson.dumps(message, option=_OPTIONS)


class ConnectionHub:
    """Holds this process's sockets and feeds them from the event bus."""

    def __init__(self, buffer_size: int = 256) -> None:
        self._subscriptions: set[Subscription] = set()
        self._buffer = buffer_size
        self._recheck = asyncio.Event()

    async def recheck_due(self, seconds: float = RECHECK_SECONDS) -> None:
        """Return after `seconds`, or sooner once the bus is back after a loss."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._recheck.wait(), seconds)

    def link_down(self) -> None:
        """LinkWatcher: revocations may be missed until the bus is back."""

    async def link_up(self, after_loss: bool) -> None:
        """LinkWatcher: after a loss, every socket re-checks its token now."""
        if after_loss:
            signal, self._recheck = self._recheck, asyncio.Event()
            signal.set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def join(
        self,
        user_id: UUID,
        is_superuser: bool,
        token_id: str,
        expires_at: datetime | None,
        session_id: UUID | None = None,
    ) -> Subscription:
        """Register a socket; it hears every event from now on."""
        subscription = Subscription(
            user_id, is_superuser, token_id, expires_at, session_id, asyncio.Queue(self._buffer)
        )
        self._subscriptions.add(subscription)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        """Forget a socket."""
        self._subscriptions.discard(subscription)

    async def dispatch(self, event: DomainEvent) -> None:
        """Message-bus handler: never awaits a socket, so it never waits for a slow one."""
        if isinstance(event, AccessRevoked | UserChanged):
            self._close_revoked(event)
            return
        if not isinstance(event, ItemEvent):
            return
        message: bytes | None = None
        for sub in list(self._subscriptions):
            if not sub.may_see(event):
                continue
            message = message or render(event)
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                log.info("dropping a slow WebSocket client of user %s", sub.user_id)
                sub.close(TOO_SLOW)

    def _close_revoked(self, event: AccessRevoked | UserChanged) -> None:
        # A role change closes the user's sockets too: a reconnect sees the new role. Neither
        # event says whether the account was deactivated (that revokes its tokens as well):
        # the socket's task finds out before it closes (see routers/ws.py).
        why = LOGGED_OUT if isinstance(event, AccessRevoked) else ACCOUNT_CHANGED
        for sub in list(self._subscriptions):
            revoked = (
                event.revokes(sub.user_id, sub.token_id, sub.session_id)
                if isinstance(event, AccessRevoked)
                else sub.user_id == event.user_id
            )
            if revoked:
                sub.close(why)
