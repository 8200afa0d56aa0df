"""What do the metrics cost the hottest read? `GET /api/v1/items/{id}` with and without
HttpMetricsMiddleware, in the same run, measured two ways.

    uv run --frozen python bench/metrics_overhead.py                  # one process
    uv run --frozen python bench/metrics_overhead.py --multiprocess   # as under --workers N

**served**: two uvicorn servers as `portico serve` runs one (the limited httptools protocol,
the stdlib loop, in-process adapters: no REDIS_URL), one of `entrypoints.http.asgi:create`,
one of the same app with the middleware taken out (`without_metrics` below), over one SQLite
database, both pinned to one core (the client gets the others). A keep-alive client sends
the requests, in blocks of 50 to each server in turn (ABBA); what is compared is the
server's CPU time per request (the sum over its threads from /proc/<pid>/task/*/schedstat),
so neither the client's speed nor the other work on a shared machine counts.

**asgi**: both apps in this process, called through the ASGI interface one request each in
turn (ABBA), timed in CPU time per request. No server, no parsing, no sockets: the strictest
ratio, since the middleware's cost is the same and the rest is smaller.

`--multiprocess` gives every app a PROMETHEUS_MULTIPROC_DIR of its own, set before
prometheus-client is imported: values go to memory-mapped files, as under `--workers N`.
Each measure runs `--slices` slices of `--requests` requests per app; the ratio is the
median of the per-slice ratios. Goal: with metrics < 1.05x the time without.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.05
BLOCK = 50  # served requests in a row on one server, between CPU readings
PASSWORD = "correct horse battery"
Rows = list[tuple[float, float]]  # per slice: (without, with) seconds a request


def without_metrics() -> Any:
    """uvicorn factory: Portico's app (settings from the environment) minus the middleware."""
    from entrypoints.container import Container
    from entrypoints.http.app import create_app
    from entrypoints.http.metrics import HttpMetricsMiddleware

    app = create_app(Container())
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HttpMetricsMiddleware]
    return app


def _options() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=2000, help="per slice and app")
    p.add_argument("--slices", type=int, default=15)
    p.add_argument("--warmup", type=int, default=1000, help="requests per app before timing")
    p.add_argument("--multiprocess", action="store_true", help="prometheus multiprocess mode")
    p.add_argument("--only", choices=["served", "asgi"], help="one of the two measures")
    return p.parse_args()


# --- served ----------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """CPU time the process has had, all threads (schedstat: nanoseconds on a CPU)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


@contextmanager
def _server(factory: str, env: dict[str, str], log: Path) -> Iterator[tuple[int, int]]:
    """uvicorn serving `factory` as `portico serve` would; yields (pid, port)."""
    port = free_port()
    with log.open("wb") as out:
        argv = [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port)]
        argv += ["--http", "entrypoints.server_protocol:LimitedHttpToolsProtocol"]
        argv += ["--loop", "asyncio", "--no-access-log", "--log-level", "warning"]
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/health/live")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{factory} did not come up:\n{log.read_text()[-3000:]}")
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(20)


def _get(conn: http.client.HTTPConnection, path: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}: {body[:200]!r}")
    return body


def _seed(port: int) -> tuple[str, str]:
    """A user, their token and an item; the item's path and the token."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        account = {"email": "bench@example.com", "password": PASSWORD}
        client.post("/api/v1/auth/register", json=account).raise_for_status()
        form = {"grant_type": "password", "username": account["email"], "password": PASSWORD}
        token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post("/api/v1/items", json={"title": "hot"}, headers=headers)
        created.raise_for_status()
    return f"/api/v1/items/{created.json()['id']}", token


def served(args: argparse.Namespace, work: Path) -> Rows:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{work}/bench.db"}
    env |= {"ENVIRONMENT": "test", "SECRET_KEY": secrets.token_hex(32), "BCRYPT_ROUNDS": "4"}
    env |= {"JOBS_IN_PROCESS": "false", "PYTHONPATH": str(ROOT)}
    for name in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    migrate = [sys.executable, "-m", "entrypoints.cli", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True)
    factories = {
        "with": "entrypoints.http.asgi:create",
        "without": "bench.metrics_overhead:without_metrics",
    }
    with ExitStack() as stack:
        servers = {}
        for name, factory in factories.items():
            own = dict(env)
            if args.multiprocess:
                own["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh(work / f"prometheus-{name}"))
            servers[name] = stack.enter_context(_server(factory, own, work / f"{name}.log"))
        stack.callback(os.sched_setaffinity, 0, os.sched_getaffinity(0))
        _same_core([pid for pid, _ in servers.values()])
        path, token = _seed(servers["with"][1])
        conns = {
            n: http.client.HTTPConnection("127.0.0.1", p, timeout=10)
            for n, (_, p) in servers.items()
        }

        def timed(name: str, count: int) -> float:
            pid, conn = servers[name][0], conns[name]
            started = _cpu_seconds(pid)
            for _ in range(count):
                _get(conn, path, token)
            return (_cpu_seconds(pid) - started) / count

        return _slices(args, timed)


def _same_core(pids: list[int]) -> None:
    """Both servers on one core, this client on the others: neither server gets the busier
    or the faster core for the whole run (threads they start later inherit it)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))


def _fresh(directory: Path) -> Path:
    directory.mkdir()
    return directory


def _slices(args: argparse.Namespace, timed: Callable[[str, int], float]) -> Rows:
    """Per slice, each app's seconds a request: `--requests` each, in blocks of BLOCK taken
    in turn (ABBA), so that a change in the machine's load falls on both alike."""
    for name in ("without", "with"):
        timed(name, args.warmup)
    rows = []
    for _ in range(args.slices):
        spent = {"with": 0.0, "without": 0.0}
        for block in range(args.requests // BLOCK):
            for name in ("with", "without") if block % 2 == 0 else ("without", "with"):
                spent[name] += timed(name, BLOCK) * BLOCK
        done = BLOCK * (args.requests // BLOCK)
        rows.append((spent["without"] / done, spent["with"] / done))
    return rows


# --- asgi ------------------------------------------------------------------------------------


class Driver:
    """Calls an ASGI app with one prepared GET, as a server would, and checks the status."""

    def __init__(self, app: Any, path: str, token: str) -> None:
        self.app = app
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }

    async def one(self) -> float:
        """One request; the CPU seconds it took."""
        status, asked = 0, False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if asked:  # the app listens for a disconnect: none comes
                await asyncio.Event().wait()
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        started = time.process_time()
        await self.app({**self.scope, "state": {}}, receive, send)
        took = time.process_time() - started
        if status != 200:
            raise SystemExit(f"GET {self.scope['path']} answered {status}")
        return took


async def _asgi(args: argparse.Namespace, work: Path) -> Rows:
    import httpx
    from asgi_lifespan import LifespanManager
    from dependency_injector import providers

    from adapters.sqlalchemy.migrate import upgrade_async
    from entrypoints.container import Container
    from entrypoints.http.app import create_app
    from entrypoints.http.metrics import HttpMetricsMiddleware
    from entrypoints.settings import Settings

    url = f"sqlite+aiosqlite:///{work}/asgi.db"
    await upgrade_async(url)
    settings = Settings(
        environment="test", database_url=url, bcrypt_rounds=4, jobs_in_process=False
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    with_metrics, without = create_app(container), create_app(container)
    without.user_middleware = [
        m for m in without.user_middleware if m.cls is not HttpMetricsMiddleware
    ]
    async with LifespanManager(with_metrics) as manager:  # the container's resources, once
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            account = {"email": "bench@example.com", "password": PASSWORD}
            (await client.post("/api/v1/auth/register", json=account)).raise_for_status()
            form = {"grant_type": "password", "username": account["email"], "password": PASSWORD}
            token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
            created = await client.post(
                "/api/v1/items", json={"title": "hot"}, headers={"Authorization": f"Bearer {token}"}
            )
        path = f"/api/v1/items/{created.json()['id']}"
        drivers = {
            "with": Driver(with_metrics, path, token),
            "without": Driver(without, path, token),
        }
        rows = []
        for n in range(args.slices + 1):  # slice 0 warms up
            spent = {"with": 0.0, "without": 0.0}
            for i in range(args.requests // 2):  # ABBA: each in turn, neither always first
                pair = ("with", "without") if i % 2 == 0 else ("without", "with")
                for name in pair:
                    spent[name] += await drivers[name].one()
            if n:
                rows.append(
                    (spent["without"] * 2 / args.requests, spent["with"] * 2 / args.requests)
                )
    return rows


# --- report ----------------------------------------------------------------------------------


def _report(title: str, rows: Rows) -> None:
    print(f"\n{title}\n")
    print("| slice | without, CPU µs/req | with, CPU µs/req | with / without |")
    print("|---:|---:|---:|---:|")
    for n, (without, with_) in enumerate(rows, 1):
        print(f"| {n} | {without * 1e6:.1f} | {with_ * 1e6:.1f} | {with_ / without:.3f} |")
    ratio = statistics.median(with_ / without for without, with_ in rows)
    extra = statistics.median(with_ - without for without, with_ in rows) * 1e6
    verdict = "met" if ratio < GOAL else "MISSED"
    print(f"\nmedian ratio {ratio:.3f} ({(ratio - 1) * 100:+.1f} %, {extra:+.1f} CPU µs a request);"
          f" goal < {GOAL:.2f}x: {verdict}", flush=True)  # fmt: skip


def main() -> None:
    args = _options()
    mode = "multiprocess mode (memory-mapped files)" if args.multiprocess else "one process"
    load = f"{args.slices} slices x {args.requests} requests per app"
    with tempfile.TemporaryDirectory(prefix="portico-bench-metrics-") as name:
        work = Path(name)
        if args.only in (None, "served"):
            _report(f"served by uvicorn, {mode}: {load}", served(args, work))
        if args.only in (None, "asgi"):
            if args.multiprocess:  # before prometheus_client is imported here: it decides then
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh(work / "prometheus-asgi"))
            _report(f"ASGI calls in this process, {mode}: {load}", asyncio.run(_asgi(args, work)))


if __name__ == "__main__":
    main()
