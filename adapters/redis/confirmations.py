"""Waiting until every other process has applied a message: acknowledgements over pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT_SECONDS = 1.0
"""How long a publisher waits for the other processes' acknowledgements at most."""


class _Awaited:
    __slots__ = ("done", "expected", "received")

    def __init__(self) -> None:
        self.expected: int | None = None  # known once PUBLISH says how many received it
        self.received = 0
        self.done = asyncio.Event()

    def check(self) -> None:
        if self.expected is not None and self.received >= self.expected:
            self.done.set()


class Confirmations:
    """Messages this process published and waits to hear acknowledged, by message id.

    A message is awaited before it is sent, since an acknowledgement may arrive before the
    publish call returns; the number to wait for is PUBLISH's count of receivers, less this
    process's own subscription. A process that dies or lags only costs the bounded wait.
    """

    def __init__(self, timeout: float = CONFIRM_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._awaited: dict[bytes, _Awaited] = {}

    def expect(self, message_id: bytes) -> None:
        """Start collecting acknowledgements of a message about to be sent."""
        self._awaited[message_id] = _Awaited()

    def acknowledged(self, message_id: bytes) -> None:
        """One more process applied the message (unknown ids are ignored: late or foreign)."""
        awaited = self._awaited.get(message_id)
        if awaited is not None:
            awaited.received += 1
            awaited.check()

    def forget(self, message_id: bytes) -> None:
        """The message was not sent after all."""
        self._awaited.pop(message_id, None)

    async def wait(self, message_id: bytes, others: int) -> bool:
        """Wait until `others` processes acknowledged the message, or the timeout; return
        whether they all did."""
        awaited = self._awaited[message_id]
        awaited.expected = others
        awaited.check()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(awaited.done.wait(), self._timeout)
        finally:
            del self._awaited[message_id]
        if not awaited.done.is_set():
            log.warning(
                "%d of %d processes confirmed an access change within %.1fs",
                awaited.received,
                others,
                self._timeout,
            )
        return awaited.done.is_set()
