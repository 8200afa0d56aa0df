"""`portico serve --workers 2`, as an operator runs it: one scrape counts what every worker
served, and a worker killed (SIGKILL) and restarted by uvicorn's supervisor takes none of its
counts with it; only its gauges go.

Which worker answered a request is read from the kernel: the worker holding the server's end
of the request's connection (`/proc/net/tcp` and each worker's open files).
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.servers import (
    ApiServer,
    api_environment,
    flush_redis,
    logs_shown_on_failure,
    migrated_database,
)

pytestmark = pytest.mark.slow

WORKERS = 2
LIVE = ("GET", "/health/live", "200")
SPREAD_ATTEMPTS = 400
RESTART_TIMEOUT_SECONDS = 90.0  # uvicorn notices in 0.5 s; the new worker imports the app


class ServeWorkers(ApiServer):
    """`python -m entrypoints.cli serve --workers 2`: a supervisor and its worker processes."""

    def command(self) -> list[str]:
        port = str(self.port)
        return [sys.executable, "-m", "entrypoints.cli", "serve", "--port", port, "--workers", "2"]

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def workers(self) -> set[int]:
        """The supervisor's worker processes running now (multiprocessing's spawned children)."""
        found = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_bytes().rpartition(b")")[2].split()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == self.pid and stat[0] != b"Z" and b"spawn_main" in cmdline:
                found.add(int(proc.name))
        return found

    def get(self, path: str) -> tuple[int, str, int | None]:
        """GET `path` on a connection of its own: the status, the body, and which worker
        answered (None if it could not be told)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.connect()
            assert connection.sock is not None
            client_port = connection.sock.getsockname()[1]
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode()
            return response.status, body, serving_process(self.workers(), self.port, client_port)
        finally:
            connection.close()


def serving_process(pids: set[int], server_port: int, client_port: int) -> int | None:
    """Which of `pids` holds the server's end of the connection from `client_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
            if int(local, 16) == server_port and int(remote, 16) == client_port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) in inodes:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def live_requests(text: str) -> float:
    """`portico_http_requests_total` of `GET /health/live` answered 200, in a scrape."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            key = (labels.get("method"), labels.get("route"), labels.get("status"))
            if sample.name == "portico_http_requests_total" and key == LIVE:
                return sample.value
    return 0.0


def metrics_directory(worker: int) -> Path:
    """The PROMETHEUS_MULTIPROC_DIR `portico serve` gave its workers."""
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.partition(b"=")[2].decode())
    raise AssertionError("the worker has no PROMETHEUS_MULTIPROC_DIR")


@pytest.fixture(scope="module")
def env(postgres_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    flush_redis(redis_url)
    with migrated_database(postgres_url, "metrics") as database_url:
        environment = api_environment(database_url, redis_url, LOG_LEVEL="INFO")
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        yield environment


@pytest.fixture
def server(
    env: dict[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[ServeWorkers]:
    """A fresh `portico serve --workers 2`, both workers answering."""
    server = ServeWorkers("serve", env, tmp_path)
    server.start()
    try:
        server.wait_ready()
        with logs_shown_on_failure(request, [server]):
            wait_for_workers(server, set())
            yield server
    finally:
        server.stop()


def wait_for_workers(server: ServeWorkers, gone: set[int]) -> set[int]:
    """Return once WORKERS workers run, none of them in `gone`, and each has answered."""
    deadline, answered = time.monotonic() + RESTART_TIMEOUT_SECONDS, set()
    while time.monotonic() < deadline:
        workers = server.workers()
        if len(workers) == WORKERS and not workers & gone and workers <= answered:
            return workers
        try:
            status, _, worker = server.get("/health/ready")
        except OSError:
            status, worker = 0, None
        if status == 200 and worker is not None:
            answered.add(worker)
        time.sleep(0.02)
    server.fail(f"had not {WORKERS} workers answering within {RESTART_TIMEOUT_SECONDS:.0f} s")
    raise AssertionError


def spread(server: ServeWorkers, each: int) -> dict[int, int]:
    """GET /health/live on new connections until every worker has answered `each` of them;
    how many each worker answered."""
    served: dict[int, int] = {}
    for _ in range(SPREAD_ATTEMPTS):
        status, _, worker = server.get("/health/live")
        assert status == 200
        assert worker is not None, "no worker holds the connection"
        served[worker] = served.get(worker, 0) + 1
        if len(served) == WORKERS and min(served.values()) >= each:
            return served
    pytest.fail(f"{SPREAD_ATTEMPTS} connections did not reach every worker: {served}")


def scrapes_by_every_worker(server: ServeWorkers) -> dict[int, float]:
    """Scrape on new connections until every worker has answered one; the count of GET
    /health/live each worker's scrape reported."""
    reported: dict[int, float] = {}
    for _ in range(SPREAD_ATTEMPTS):
        status, body, worker = server.get("/metrics")
        assert status == 200, body
        if worker is not None:
            reported[worker] = live_requests(body)
        if len(reported) == WORKERS:
            return reported
    pytest.fail(f"{SPREAD_ATTEMPTS} scrapes did not reach every worker: {reported}")


def test_one_scrape_counts_the_requests_every_worker_served(server: ServeWorkers):
    _, before, _ = server.get("/metrics")

    served = spread(server, each=5)
    reported = scrapes_by_every_worker(server)

    expected = live_requests(before) + sum(served.values())
    assert reported == dict.fromkeys(served, expected)


def test_a_killed_worker_is_restarted_and_no_count_drops_or_doubles(server: ServeWorkers):
    served = spread(server, each=5)
    victim = min(served)
    directory = metrics_directory(victim)
    _, body, _ = server.get("/metrics")
    before = live_requests(body)
    assert (directory / f"counter_{victim}.db").exists()

    os.kill(victim, signal.SIGKILL)
    workers = wait_for_workers(server, gone={victim})
    served_after = spread(server, each=3)
    for _ in range(100):  # `portico serve` looks for dead workers every second
        if not list(directory.glob(f"gauge_live*_{victim}.db")):
            break
        time.sleep(0.05)
    reported = scrapes_by_every_worker(server)

    assert set(served_after) == workers
    assert reported == dict.fromkeys(workers, before + sum(served_after.values()))
    assert (directory / f"counter_{victim}.db").exists()  # its counts are kept
    assert not list(directory.glob(f"gauge_live*_{victim}.db"))  # its gauges are gone
    assert all(list(directory.glob(f"gauge_livesum_{pid}.db")) for pid in workers)
    server.stop()
    assert not directory.exists()  # `portico serve` removes it as it exits
