"""The HTTP server's own limits, below the app: how big a request head may be, how slowly a
client may send it and its body, and how many connections one process holds.

The limits are enforced by `entrypoints.server_protocol.LimitedHttpToolsProtocol`, uvicorn's
httptools protocol with counters and timers added: `portico serve` passes it as uvicorn's
`http` class, and `uvicorn --http entrypoints.server_protocol:LimitedHttpToolsProtocol` works
the same. Each process reads its limits from the settings once. Cut and refused connections
are logged at most once per interval, with their count by reason, never once per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from entrypoints.container import Container
from entrypoints.settings import Settings

log = logging.getLogger(__name__)

PROTOCOL = "entrypoints.server_protocol:LimitedHttpToolsProtocol"
WS_PROTOCOL = "entrypoints.server_protocol:GoingAwayWebSocketProtocol"
FILES_KEPT_FOR_THE_REST = 64  # log files, storage files, Redis, DNS: besides the database pool
REPORT_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one server process allows a client (see the README's Security section)."""

    max_header_bytes: int
    max_headers: int
    head_timeout: float
    body_timeout: float
    body_min_rate: int
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        reserve = FILES_KEPT_FOR_THE_REST + settings.db_pool_size + settings.db_max_overflow
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            head_timeout=settings.request_head_timeout_seconds,
            body_timeout=settings.request_body_timeout_seconds,
            body_min_rate=settings.request_body_min_rate,
            max_connections=_within_open_files(settings.max_connections, reserve),
        )


def _within_open_files(wanted: int, reserve: int) -> int:
    """The connection cap, lowered to what the open-file limit leaves once `reserve` is kept:
    past it accept() would fail for every client, and say nothing."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft - reserve:
        return wanted
    room = max(1, soft - reserve)
    log.warning(
        "MAX_CONNECTIONS=%d does not fit the limit of %d open files less %d kept for the"
        " database and files; at most %d connections are held",
        wanted,
        soft,
        reserve,
        room,
    )
    return room


@cache
def configured_limits() -> ServerLimits:
    """This process's limits, read from the settings the first time a connection asks."""
    return ServerLimits.from_settings(Container().settings())


WORKER_STARTUP_SECONDS = 60
"""How long `--workers N` waits for a new worker to answer before replacing it."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The `uvicorn.run` arguments that bound slow and idle clients, and the shutdown."""
    return {
        "http": PROTOCOL,
        "ws": WS_PROTOCOL,
        "loop": settings.event_loop,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "timeout_graceful_shutdown": settings.graceful_timeout_seconds,
        # A worker imports the whole app before it answers the supervisor's first ping; on a
        # busy host without bytecode caches that took over uvicorn's default 5 s, and every
        # worker was killed and respawned for ever.
        "timeout_worker_healthcheck": WORKER_STARTUP_SECONDS,
    }


class CutReport:
    """Counts connections cut or refused, by reason; logs the first of a quiet spell at once,
    then at most one line per interval with how many there were since."""

    def __init__(self, interval: float = REPORT_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._counts: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None

    def note(self, loop: asyncio.AbstractEventLoop, reason: str) -> None:
        self._counts[reason] += 1
        if self._timer is None:
            self._report(loop)

    def _report(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._counts:
            self._timer = None
            return
        reasons = ", ".join(f"{count} {reason}" for reason, count in self._counts.most_common())
        log.warning("HTTP connections cut or refused since the last report: %s", reasons)
        self._counts.clear()
        self._timer = loop.call_later(self.interval, self._report, loop)


cut_report = CutReport()
"""The process's one report (one event loop per process)."""


class Refusal(Exception):
    """A request refused: the status and detail the client gets, and the `reason` the cut
    report counts it under ("" when counted already). Raised in a parser callback, it stops
    the parsing."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def refusal_response(refusal: Refusal, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole `Connection: close` response with an RFC 9457 problem body, as the app's are."""
    status = refusal.status
    title, detail = HTTPStatus(status).phrase, refusal.detail
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = [
        *default_headers,
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-request-id", uuid.uuid4().hex.encode()),
    ]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in headers)]
    return b"".join([*lines, b"\r\n", body])
