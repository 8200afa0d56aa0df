"""The server limits' own parts, in process: the cut report's pace, and a connection cap that
fits the open-file limit."""

from __future__ import annotations

import asyncio
import logging
import resource

import pytest

from entrypoints.server import FILES_KEPT_FOR_THE_REST, CutReport, ServerLimits, uvicorn_options
from entrypoints.settings import Settings

REPORTS = "entrypoints.server"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == REPORTS]


async def test_cuts_are_reported_at_once_then_at_most_once_per_interval(caplog):
    caplog.set_level(logging.WARNING, logger=REPORTS)
    report, loop = CutReport(interval=0.2), asyncio.get_running_loop()

    for _ in range(250):
        report.note(loop, "request head not sent within 10 s")
    report.note(loop, "idle at the cap (evicted)")
    first = _lines(caplog)
    await asyncio.sleep(0.3)
    second = _lines(caplog)
    await asyncio.sleep(0.3)

    assert first == [
        "HTTP connections cut or refused since the last report: 1 request head not sent within 10 s"
    ]
    assert second[1:] == [
        "HTTP connections cut or refused since the last report:"
        " 249 request head not sent within 10 s, 1 idle at the cap (evicted)"
    ]
    assert len(_lines(caplog)) == 2  # a quiet interval says nothing


def _settings(**values: object) -> Settings:
    return Settings(environment="test", **values)  # type: ignore[arg-type]


def test_the_connection_cap_is_lowered_to_fit_the_open_file_limit(monkeypatch, caplog):
    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 4096))
    caplog.set_level(logging.WARNING, logger=REPORTS)

    limits = ServerLimits.from_settings(_settings(db_pool_size=10, db_max_overflow=10))

    assert limits.max_connections == 256 - FILES_KEPT_FOR_THE_REST - 20
    assert "open files" in caplog.text


def test_a_cap_that_fits_is_kept_as_configured(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda _: (65536, 65536))

    assert ServerLimits.from_settings(_settings(max_connections=500)).max_connections == 500


def test_serve_passes_the_limited_protocol_and_the_timeouts_to_uvicorn():
    options = uvicorn_options(_settings(keep_alive_timeout_seconds=7, graceful_timeout_seconds=12))

    assert options == {
        "http": "entrypoints.server_protocol:LimitedHttpToolsProtocol",
        "ws": "entrypoints.server_protocol:GoingAwayWebSocketProtocol",
        "timeout_keep_alive": 7,
        "timeout_graceful_shutdown": 12,
        "loop": "asyncio",
        "timeout_worker_healthcheck": 60,
    }


async def test_every_accepted_connection_sends_small_answers_without_delay():
    """A socket handed over by `--workers` is one the stdlib loop does not mark TCP_NODELAY:
    without it, each keep-alive answer waited on the client's delayed ACK (about 40 ms)."""
    import socket

    from entrypoints.server_protocol import _no_delay

    accepted: list[socket.socket] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # as handed over
            _no_delay(transport)
            accepted.append(sock)

    server = await asyncio.get_running_loop().create_server(Probe, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(100):
        if accepted:
            break
        await asyncio.sleep(0.01)
    try:
        assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        writer.close()
        server.close()
