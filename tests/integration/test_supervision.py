"""`portico serve --workers 2` under supervision: uvicorn's supervisor process, two worker
processes sharing its port, REDIS_URL and the throwaway PostgreSQL.

One process is started for the module. First a worker is killed (SIGKILL) under steady load,
and the supervisor must put a new one in its place while the port goes on answering. Then the
supervisor gets SIGTERM with 50 slow downloads in flight and a WebSocket open: that run is
recorded once (`shutdown`), and each property of it is a test of its own.

The slow requests are real: an attachment's download, read by clients that take seconds over
it (a small receive buffer, paced reads), as a client on a slow network does. That they were
still in the worker's hands at the SIGTERM is read from /proc/net/tcp: more of each body was
left than the kernel held. That the replacement worker serves is shown by pausing the other
one (SIGSTOP) while clients connect: only the replacement can accept them then.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.contract.databases import run_blocking
from tests.integration.clients import Account, bearer, sign_up
from tests.integration.portico_process import PorticoProcess
from tests.integration.servers import api_environment, flush_redis, migrated_database

pytestmark = pytest.mark.slow

WORKERS = 2
GRACE = 10  # GRACEFUL_TIMEOUT_SECONDS
LOAD_CLIENTS = 4
LOAD_PAUSE = 0.05  # seconds between one client's requests: steady, not saturating
REPLACEMENT_TIMEOUT = 30.0  # a worker imports the whole app first
IN_FLIGHT = 50
DOWNLOAD_BYTES = 6 * 1024 * 1024  # more than the kernel buffers of a connection (4 MiB at most)
READ_RATE = 3 * 1024 * 1024 // 2  # bytes a second, for each slow client: about 4 s a download
RECEIVE_BUFFER = 32 * 1024  # the kernel doubles it; a small window keeps the bytes server-side
SIGTERM_AFTER = 0.5  # seconds of downloading before the SIGTERM
GOING_AWAY, SERVICE_RESTART = 1001, 1012


class SupervisedPortico(PorticoProcess):
    """`portico serve --workers 2`; knows its worker processes."""

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(WORKERS)]

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def workers(self) -> list[int]:
        """The supervisor's uvicorn workers (its spawned children, less multiprocessing's
        resource tracker)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.pid and b"resource_tracker" not in cmdline:
                found.append(int(entry.name))
        return sorted(found)


def _tcp_table() -> list[list[str]]:
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            rows += [line.split() for line in Path(name).read_text().splitlines()[1:]]
    return rows


def _queued_bytes(table: list[list[str]], server_port: int, client_port: int) -> int:
    """Bytes of one connection held by the kernel: unsent or unacknowledged on the server
    side, received and unread on the client side."""
    held = 0
    for row in table:
        local, remote = (int(row[n].rsplit(":", 1)[1], 16) for n in (1, 2))
        tx_queue, rx_queue = (int(part, 16) for part in row[4].split(":"))
        if (local, remote) == (server_port, client_port):
            held += tx_queue
        elif (local, remote) == (client_port, server_port):
            held += rx_queue
    return held


@pytest.fixture(scope="module")
def supervised(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupervisedPortico]:
    flush_redis(redis_url)
    directory = tmp_path_factory.mktemp("supervision")
    with migrated_database(postgres_url, "supervision") as database_url:
        env = api_environment(
            database_url,
            redis_url,
            GRACEFUL_TIMEOUT_SECONDS=str(GRACE),
            STORAGE_DIR=str(directory / "storage"),
            DB_POOL_SIZE="10",
            LOG_LEVEL="INFO",  # uvicorn says when each worker has started (and logs requests)
        )
        server = SupervisedPortico("supervised", env, directory)
        server.start()
        try:
            server.wait_ready()
            deadline = time.monotonic() + 30
            while len(server.workers()) < WORKERS and time.monotonic() < deadline:
                time.sleep(0.1)
            yield server
        finally:
            server.stop()


@pytest.fixture(autouse=True)
def _logs_on_failure(
    request: pytest.FixtureRequest, supervised: SupervisedPortico
) -> Iterator[None]:
    failed_before, size = request.session.testsfailed, supervised.log_size()
    yield
    if request.session.testsfailed > failed_before:
        print(f"----- portico serve --workers {WORKERS} -----\n{supervised.log(size)}")


@pytest.fixture(scope="module")
def account(supervised: SupervisedPortico) -> Account:
    async def signed_up() -> Account:
        async with httpx.AsyncClient(base_url=supervised.url, timeout=10, trust_env=False) as http:
            return await sign_up(http, "supervised")

    return run_blocking(signed_up())


# --- a worker killed under load --------------------------------------------------------------


@dataclass
class Answer:
    sent: float
    answered: float
    outcome: str  # the status code, or the transport error's name


async def _steady_load(
    server: SupervisedPortico, account: Account, url: str, stop: asyncio.Event
) -> list[Answer]:
    """LOAD_CLIENTS clients reading `url`, each request on a new connection (as many clients
    do), until `stop`."""
    answers: list[Answer] = []
    limits = httpx.Limits(max_keepalive_connections=0)

    async def reader() -> None:
        async with httpx.AsyncClient(
            base_url=server.url, timeout=5, limits=limits, trust_env=False
        ) as http:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    outcome = str((await http.get(url, headers=account.headers)).status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                answers.append(Answer(sent, time.monotonic(), outcome))
                await asyncio.sleep(LOAD_PAUSE)

    await asyncio.gather(*(reader() for _ in range(LOAD_CLIENTS)))
    return answers


async def _replacement_ready(
    server: SupervisedPortico, before: list[int], log_offset: int, deadline: float
) -> int | None:
    """The new worker's pid once it has said that its startup is complete, or None by the
    deadline. (Its own lines: nothing else starts meanwhile.)"""
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        new = [pid for pid in server.workers() if pid not in before]
        if new:
            logged = server.log(log_offset)
            started = logged.find(f"Started server process [{new[0]}]")
            if started >= 0 and "Application startup complete" in logged[started:]:
                return new[0]
    return None


async def _fresh_get(server: SupervisedPortico, url: str, account: Account) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=5, trust_env=False) as http:
        return (await http.get(url, headers=account.headers)).status_code


async def test_a_worker_killed_under_load_is_replaced_and_the_port_keeps_answering(
    supervised: SupervisedPortico, account: Account
) -> None:
    async with httpx.AsyncClient(base_url=supervised.url, timeout=10, trust_env=False) as http:
        made = await http.post("/api/v1/items", json={"title": "read"}, headers=account.headers)
    url = made.headers["Location"]
    before = supervised.workers()
    assert len(before) == WORKERS, before
    victim, survivor = before

    stop = asyncio.Event()
    load = asyncio.create_task(_steady_load(supervised, account, url, stop))
    await asyncio.sleep(1.0)
    log_offset, killed_at = supervised.log_size(), time.monotonic()
    os.kill(victim, signal.SIGKILL)
    replacement = await _replacement_ready(
        supervised, before, log_offset, killed_at + REPLACEMENT_TIMEOUT
    )
    ready_at = time.monotonic()
    # With the survivor paused, new connections wait in the shared listen queue until a
    # worker accepts them: only the replacement can answer these.
    paused_statuses = []
    if replacement is not None:
        os.kill(survivor, signal.SIGSTOP)
        try:
            paused_statuses = [await _fresh_get(supervised, url, account) for _ in range(3)]
        finally:
            os.kill(survivor, signal.SIGCONT)
    await asyncio.sleep(0.5)
    stop.set()
    answers = await load

    print(
        f"\nSIGKILL of worker {victim}: replacement {replacement} ready after"
        f" {ready_at - killed_at:.1f} s; {len(answers)} requests under load, outcomes"
        f" {sorted({a.outcome for a in answers})}"
    )
    assert replacement is not None, "no new worker said its startup was complete"
    assert replacement not in (victim, survivor)
    assert sorted(supervised.workers()) == sorted([survivor, replacement])
    assert paused_statuses == [200] * 3

    failed = [a for a in answers if a.outcome != "200"]
    # Only requests the dead worker had accepted are lost (the listen queue is the
    # supervisor's, so nothing waiting in it is); none is answered with an error.
    assert all(not a.outcome.isdigit() for a in failed), failed
    assert len(failed) <= LOAD_CLIENTS, failed
    assert all(killed_at - 1.0 <= a.sent <= killed_at + 0.1 for a in failed), failed
    # The survivor alone answered until the replacement was up: no silence.
    served = sorted(a.answered for a in answers if killed_at < a.answered < ready_at)
    gaps = [later - earlier for earlier, later in zip([killed_at, *served], served, strict=False)]
    assert served and max(gaps) < 1.0, f"the port went quiet for {max(gaps, default=0):.2f} s"


# --- SIGTERM with requests in flight ----------------------------------------------------------


@dataclass
class Download:
    client_port: int = 0
    status: int | None = None
    body_sha256: str | None = None
    received: int = 0
    at_sigterm: int = 0
    kernel_held_at_sigterm: int = 0
    finished_at: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Shutdown:
    downloads: list[Download]
    expected_sha256: str
    sigterm_at: float
    exited_after: float
    status: int | None
    probe: str
    close_code: int | None
    close_reason: str | None
    workers_left: list[int]


async def _slow_download(
    port: int, path: str, token: str, record: Download, go: asyncio.Event
) -> None:
    """GET `path` on a raw connection; once the head is in and `go` is set, read the body at
    READ_RATE, into `record`."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setblocking(False)
    digest = hashlib.sha256()
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        record.client_port = sock.getsockname()[1]
        request = (
            f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
            "Connection: close\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise ConnectionError(f"closed during the head: {head!r}")
            head += chunk
        head, body = head.split(b"\r\n\r\n", 1)
        record.status = int(head.split(b" ", 2)[1])
        digest.update(body)
        record.received = len(body)
        await go.wait()
        started = time.monotonic()
        while True:
            ahead = record.received / READ_RATE - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
            chunk = await loop.sock_recv(sock, 16 * 1024)
            if not chunk:
                break
            digest.update(chunk)
            record.received += len(chunk)
        record.body_sha256 = digest.hexdigest()
        record.finished_at = time.monotonic()
    except OSError as exc:
        record.error = repr(exc)
    finally:
        sock.close()


async def _probe(port: int) -> str:
    """What a client connecting now gets: a status code, or the error's name."""
    try:
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
            return str((await http.get(f"http://127.0.0.1:{port}/health/live")).status_code)
    except httpx.TransportError as exc:
        return type(exc).__name__


@pytest.fixture(scope="module")
def shutdown(supervised: SupervisedPortico, account: Account) -> Shutdown:
    """The one SIGTERM run: downloads in flight, a WebSocket open, a late client."""
    return run_blocking(_sigterm_run(supervised, account))


async def _sigterm_run(supervised: SupervisedPortico, account: Account) -> Shutdown:
    data = os.urandom(DOWNLOAD_BYTES)
    async with httpx.AsyncClient(base_url=supervised.url, timeout=30, trust_env=False) as http:
        item = await http.post("/api/v1/items", json={"title": "files"}, headers=account.headers)
        upload = await http.post(
            f"{item.headers['Location']}/attachments",
            files={"file": ("big.bin", data)},
            headers=account.headers,
        )
        assert upload.status_code == 201, upload.text
    path = upload.headers["Location"]

    socket_ = await ws_connect(
        f"ws://127.0.0.1:{supervised.port}/api/v1/ws",
        additional_headers=bearer(account.access_token),
        proxy=None,
        open_timeout=5,
    )
    assert "ready" in str(await asyncio.wait_for(socket_.recv(), 5))

    downloads, go = [Download() for _ in range(IN_FLIGHT)], asyncio.Event()
    tasks = [
        asyncio.create_task(_slow_download(supervised.port, path, account.access_token, d, go))
        for d in downloads
    ]
    deadline = time.monotonic() + 10
    while any(d.status is None and d.error is None for d in downloads):
        assert time.monotonic() < deadline, "the downloads did not all start"
        await asyncio.sleep(0.02)
    go.set()  # every client reads at the same pace from now on
    await asyncio.sleep(SIGTERM_AFTER)

    # One snapshot, taken while no client reads (this loop is busy with it): what each client
    # has read, and what the kernel holds of each connection; the SIGTERM follows at once.
    table = _tcp_table()
    for record in downloads:
        record.at_sigterm = record.received
        record.kernel_held_at_sigterm = _queued_bytes(table, supervised.port, record.client_port)
    sigterm_at = time.monotonic()
    terminated = asyncio.create_task(asyncio.to_thread(supervised.terminate, GRACE + 10))
    await asyncio.sleep(1.5)  # the supervisor passes SIGTERM on within half a second
    probe = await _probe(supervised.port)

    close_code = close_reason = None
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            await asyncio.wait_for(socket_.recv(), GRACE)
    close_code, close_reason = socket_.close_code, socket_.close_reason

    await asyncio.gather(*tasks)
    took, status = await terminated
    return Shutdown(
        downloads=downloads,
        expected_sha256=hashlib.sha256(data).hexdigest(),
        sigterm_at=sigterm_at,
        exited_after=took,
        status=status,
        probe=probe,
        close_code=close_code,
        close_reason=close_reason,
        workers_left=supervised.workers(),
    )


def test_sigterm_lets_50_slow_downloads_in_flight_finish_whole_with_200(
    shutdown: Shutdown,
) -> None:
    downloads = shutdown.downloads
    left = [DOWNLOAD_BYTES - d.at_sigterm - d.kernel_held_at_sigterm for d in downloads]
    finished = [d.finished_at - shutdown.sigterm_at for d in downloads if d.finished_at]
    print(
        f"\nSIGTERM with {IN_FLIGHT} downloads of {DOWNLOAD_BYTES >> 20} MiB in flight: read"
        f" {statistics.median(d.at_sigterm for d in downloads) / 2**20:.2f} MiB (median) by"
        f" then, kernel held {max(d.kernel_held_at_sigterm for d in downloads) >> 10} KiB at most;"
        f" the last finished {max(finished, default=0):.1f} s after SIGTERM"
    )
    assert [d.error for d in downloads if d.error] == []
    assert [d.status for d in downloads] == [200] * IN_FLIGHT
    # Still in flight inside the worker when SIGTERM came: part of each body was neither read
    # nor in a kernel buffer (nor in the transport's buffer: 64 KiB and the 256 KiB chunk being
    # sent), so the worker itself still had it to read and send after the signal.
    assert min(left) > 320 * 1024, left
    assert [d.received for d in downloads] == [DOWNLOAD_BYTES] * IN_FLIGHT
    assert {d.body_sha256 for d in downloads} == {shutdown.expected_sha256}


def test_sigterm_exits_cleanly_after_the_last_request_within_the_graceful_timeout(
    shutdown: Shutdown,
) -> None:
    print(f"\nexit status {shutdown.status}, {shutdown.exited_after:.1f} s after SIGTERM")
    assert shutdown.status in (0, -signal.SIGTERM)  # 0 here; 143 (by the signal) is as clean
    # The workers waited for their downloads (see the test above: each still had bytes to send
    # after the signal), and no longer than that: the last bytes are the kernel's to deliver.
    assert shutdown.exited_after < GRACE + 2
    assert shutdown.workers_left == []


def test_sigterm_stops_accepting_new_requests_at_once(shutdown: Shutdown) -> None:
    assert not shutdown.probe.isdigit(), f"a client connecting after SIGTERM got {shutdown.probe}"


def test_sigterm_closes_an_open_websocket_with_1001_going_away(shutdown: Shutdown) -> None:
    assert shutdown.close_code == GOING_AWAY, (shutdown.close_code, shutdown.close_reason)


def test_sigterm_closes_an_open_websocket_at_once_with_a_restart_code(shutdown: Shutdown) -> None:
    """Whatever the code, the client is told (it does not wait for the downloads)."""
    assert shutdown.close_code in (GOING_AWAY, SERVICE_RESTART)
