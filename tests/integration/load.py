"""What a client load saw: every request and its answer, and a ledger of acknowledged writes.

A `Recorder` sends requests for the load and keeps a `Call` for each, stamped with the phase of
the test it was sent in; a `Ledger` keeps what the service acknowledged and showed of each
item, so that the test can compare it with the database afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

WS = "WS"
"""The `method` of a WebSocket handshake. Its `status` is the handshake's (101 accepted, 403
refused), or 200 once `ready` came, or 503 when the server closed it 1013 ("try again later")."""


@dataclass
class Call:
    """One request: who sent it, in which role (`what`), and how it was answered."""

    who: str
    what: str
    instance: str
    method: str
    path: str
    phase: str
    expect: frozenset[int]  # the answers its role allows, besides a 503 while the database is down
    sent: float  # seconds since the load started
    received: float = 0.0
    answered_in: str = ""  # the phase when the answer came
    status: int | None = None  # None: no answer at all (`detail` says why)
    retry_after: str | None = None
    request_id: str | None = None
    detail: str = ""  # the start of an unexpected answer's body, or the transport error

    def describe(self) -> str:
        answer = str(self.status) if self.status is not None else "no answer"
        when = f"sent +{self.sent:.2f}s in {self.phase}, answered +{self.received:.2f}s"
        if self.answered_in != self.phase:
            when += f" in {self.answered_in}"
        text = (
            f"{self.what} by {self.who}: {self.method} {self.path} on {self.instance}"
            f" ({when}) -> {answer}"
        )
        if self.request_id:
            text += f" [X-Request-ID {self.request_id}]"
        return f"{text} {self.detail}".rstrip()


class Recorder:
    """Sends the load's requests to named instances and remembers each one as a `Call`."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self.clients = dict(clients)
        self.t0 = time.monotonic()
        self.phase = "setup"
        self.calls: list[Call] = []
        self._in_flight: dict[int, Call] = {}

    def now(self) -> float:
        return time.monotonic() - self.t0

    def begin(
        self, who: str, what: str, instance: str, method: str, path: str, expect: Iterable[int]
    ) -> Call:
        """A call being sent now; `finish` it once answered (or not)."""
        call = Call(who, what, instance, method, path, self.phase, frozenset(expect), self.now())
        self._in_flight[id(call)] = call
        return call

    def answered(self, call: Call, status: int, headers: Mapping[str, str], text: str) -> None:
        call.status = status
        call.retry_after = headers.get("retry-after")
        call.request_id = headers.get("x-request-id")
        if status not in call.expect:
            call.detail = text[:300]

    def finish(self, call: Call) -> Call:
        call.received, call.answered_in = self.now(), self.phase
        self._in_flight.pop(id(call), None)
        self.calls.append(call)
        return call

    async def send(
        self,
        instance: str,
        who: str,
        what: str,
        method: str,
        path: str,
        expect: Iterable[int],
        **kwargs: Any,
    ) -> tuple[Call, httpx.Response | None]:
        """Send one request; its Call, and the response unless there was none."""
        call = self.begin(who, what, instance, method, path, expect)
        response: httpx.Response | None = None
        try:
            response = await self.clients[instance].request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            call.detail = repr(exc)
        else:
            self.answered(call, response.status_code, response.headers, response.text)
        finally:
            self.finish(call)
        return call, response

    async def settled(self, since: float, timeout: float) -> bool:
        """Wait until every request sent before `since` is answered; False if still not."""
        deadline = self.now() + timeout
        while any(call.sent < since for call in list(self._in_flight.values())):
            if self.now() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


PROPAGATION_SECONDS = 1.0
"""How soon a write through one instance must show in reads through the other."""


@dataclass
class Ledger:
    """What the service acknowledged and showed of each item.

    Every write sends a title no other write sends, so each version of an item names one
    state: two different titles seen at one version mean a change was lost or invented.

    Reads must never go back behind a write acknowledged by the same instance; a write made
    through the other instance reaches a read there within `PROPAGATION_SECONDS` (each process
    keeps its own cache, kept exact by the event bus: README, "Scaling out").
    """

    acked: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    """item id -> (highest version a write was acknowledged at, its title, where)"""
    acks: dict[str, list[tuple[float, int, str, str]]] = field(default_factory=dict)
    """item id -> every acknowledgement: (monotonic time, version, instance, where)"""
    seen: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    """(item id, version) -> title -> where it was first seen (answers, reads, events)"""
    created: dict[str, str] = field(default_factory=dict)  # item id -> where acknowledged
    deleted: dict[str, str] = field(default_factory=dict)  # item id -> where acknowledged
    refused: dict[str, str] = field(default_factory=dict)  # title of a 412'd PATCH -> where
    stale: list[str] = field(default_factory=list)  # reads behind an acknowledged write
    wrong: list[str] = field(default_factory=list)  # answers that contradict their request

    def floor(self, item_id: str, instance: str) -> tuple[int, str]:
        """The version a read of the item sent now on `instance` must show at least (0: any):
        the highest acknowledged by that instance, or by another one long enough ago."""
        settled = time.monotonic() - PROPAGATION_SECONDS
        due = [
            (version, where)
            for at, version, acked_on, where in self.acks.get(item_id, [])
            if acked_on == instance or at <= settled
        ]
        return max(due, default=(0, ""))

    def acknowledge(self, item: Mapping[str, Any], where: str, instance: str) -> None:
        """A write of the item was acknowledged with this representation by `instance`."""
        self.observe(item, where)
        self.acks.setdefault(item["id"], []).append(
            (time.monotonic(), item["version"], instance, where)
        )
        if item["version"] > self.acked.get(item["id"], (0, "", ""))[0]:
            self.acked[item["id"]] = (item["version"], item["title"], where)

    def observe(self, item: Mapping[str, Any], where: str) -> None:
        """The service showed this state of the item (an answer, a read or an event)."""
        if "version" in item and "title" in item:
            titles = self.seen.setdefault((item["id"], item["version"]), {})
            titles.setdefault(item["title"], where)

    def read(self, item: Mapping[str, Any], floor: tuple[int, str], where: str) -> None:
        """A read sent when `floor` was the highest acknowledged version answered `item`."""
        self.observe(item, where)
        if item["version"] < floor[0]:
            self.stale.append(
                f"{where}: version {item['version']}, but {floor[0]} was acknowledged to {floor[1]}"
            )

    def conflicts(self) -> list[str]:
        """Versions at which the service showed more than one state of an item."""
        return [
            f"item {item_id} version {version}: "
            + "; ".join(f"{title!r} in {where}" for title, where in titles.items())
            for (item_id, version), titles in self.seen.items()
            if len(titles) > 1
        ]

    def shown_refused(self) -> list[str]:
        """States shown whose title only a PATCH refused with 412 had sent."""
        return [
            f"item {item_id} v{version} is {title!r} ({where}); refused by {self.refused[title]}"
            for (item_id, version), titles in self.seen.items()
            for title, where in titles.items()
            if title in self.refused
        ]
