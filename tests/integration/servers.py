"""Real processes for the multi-process tests: Portico API instances, a Redis of one's own, and
the throwaway PostgreSQL cluster of `scripts/check`, which a fault test may restart.

An `ApiServer` is `uvicorn entrypoints.http.asgi:create --factory` in a child Python (no `uv`),
configured only through its environment, with its output in a log file that is shown when a
test fails. Everything started here is stopped by the fixture that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.migrate import upgrade
from tests.contract.databases import create_database, drop_database, run_blocking

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 20.0
KEEP_ALIVE_SECONDS = 120
"""Longer than any test: a client reusing a connection just as the server's idle timeout closes
it gets no answer (the race every proxy in front of a server is configured to avoid)."""
STOP_TIMEOUT_SECONDS = 10.0
SECRET_KEY = "scale-out-test-secret-0123456789abcdef0123456789"
LOG_TAIL_LINES = 80


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_environment(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of an API process: this one's, with these settings over it."""
    settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
        "SECRET_KEY": SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        "REGISTER_LIMIT_PER_ADDRESS": "100000",  # every test registers from 127.0.0.1
        **extra,
    }
    return {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}


class ApiServer:
    """One API process on a loopback port; `start`, `wait_ready`, `stop`."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name, self.env = name, dict(env)
        self.port = free_port()
        self.log_path = log_dir / f"api-{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    def command(self) -> list[str]:
        """How the process is started."""
        return [
            sys.executable, "-m", "uvicorn", "entrypoints.http.asgi:create", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log",
            "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
        ]  # fmt: skip

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(), cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Return once `/health/ready` answers 200; fail the test with the log otherwise."""
        deadline, last = time.monotonic() + timeout, "no answer"
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    self.fail(f"exited with status {self._process.returncode} while starting")
                try:
                    response = client.get("/health/ready")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
                time.sleep(0.05)
        self.fail(f"not ready after {timeout:.0f} s (last answer: {last})")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after a grace period)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def terminate(self, timeout: float) -> tuple[float, int | None]:
        """SIGTERM; wait up to `timeout` s. The seconds it took and the exit status (None
        if it was still running, then killed)."""
        assert self._process is not None
        started = time.monotonic()
        self._process.send_signal(signal.SIGTERM)
        try:
            status: int | None = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
            self._process.kill()
            self._process.wait()
        return time.monotonic() - started, status

    def log(self, since: int = 0) -> str:
        """The process's output from byte offset `since`, at most its last lines."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_between(self, start: int, end: int) -> str:
        """Exactly what the process wrote between two `log_size` offsets."""
        with self.log_path.open("rb") as log:
            log.seek(start)
            return log.read(max(0, end - start)).decode(errors="replace")

    def fail(self, reason: str) -> None:
        pytest.fail(f"API process {self.name} {reason}; its output:\n{self.log()}", pytrace=False)


@contextmanager
def running_api_servers(
    names: list[str], env: Mapping[str, str], log_dir: Path
) -> Iterator[list[ApiServer]]:
    """Start one process per name in parallel, wait until each is ready, stop them all after."""
    servers = [ApiServer(name, env, log_dir) for name in names]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


@contextmanager
def logs_shown_on_failure(
    request: pytest.FixtureRequest, servers: list[ApiServer]
) -> Iterator[None]:
    """Print what the servers logged during a test, if the test failed (pytest shows it)."""
    offsets = [server.log_size() for server in servers]
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        for server, offset in zip(servers, offsets, strict=True):
            print(f"----- API process {server.name} during the test -----\n{server.log(offset)}")


@contextmanager
def migrated_database(postgres_url: str, purpose: str) -> Iterator[str]:
    """A fresh PostgreSQL database at the latest revision; dropped afterwards."""
    url = run_blocking(create_database(postgres_url, purpose))
    try:
        upgrade(url)
        yield url
    finally:
        run_blocking(drop_database(postgres_url, url))


def flush_redis(url: str) -> None:
    """Empty the Redis database at `url`."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


class RedisServer:
    """A redis-server of the test's own on a fixed loopback port, which it may kill and restart."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.log_path = directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start on `self.port` (the same port every time) and return once it answers PING."""
        if self._process is not None and self._process.poll() is None:
            return  # already running: a second one could not bind, and would leak this one
        command = [
            self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.answers():
                return
            time.sleep(0.02)
        self.kill()
        pytest.fail(f"redis-server did not start:\n{self.log_path.read_text()}", pytrace=False)

    def answers(self) -> bool:
        """Whether the server answers PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def save(self) -> None:
        """Write its data to disk (SAVE), to be loaded by the next `start`."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            client.save()
        finally:
            client.close()

    def kill(self, *, keep_saved: bool = False) -> None:
        """Stop it the hard way (SIGKILL: a crash) and wait until it is gone. The next start
        is empty, unless `keep_saved` keeps what `save` wrote for it to load."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if not keep_saved:
            (self.directory / "dump.rdb").unlink(missing_ok=True)

    @contextmanager
    def down(self, *, keep_data: bool = False) -> Iterator[None]:
        """Dead inside the block and running again (same port) after it: empty, or with the
        data it had (as after a restart with persistence, or a network partition)."""
        if keep_data:
            self.save()
        self.kill(keep_saved=keep_data)
        try:
            yield
        finally:
            self.start()


@contextmanager
def running_redis_server(binary: str, directory: Path) -> Iterator[RedisServer]:
    """A started `RedisServer`, killed after the block."""
    server = RedisServer(binary, directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def database_dsn(url: str) -> str:
    """The libpq DSN (for asyncpg) of a `postgresql+asyncpg://` SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresCluster:
    """The throwaway PostgreSQL cluster `scripts/check` started, which a test may restart.

    Found through `PORTICO_TEST_PG_BIN`, `_DATA`, `_LOG`, `_PORT` and `_USER` (the user its
    tools run as; empty: this one). Restarting it breaks every open connection to it.
    """

    def __init__(self, bin_dir: Path, data_dir: Path, log_path: Path, port: int, user: str):
        self.bin_dir, self.data_dir, self.log_path = bin_dir, data_dir, log_path
        self.port, self.user = port, user

    @classmethod
    def from_environment(cls) -> PostgresCluster | None:
        """The cluster `scripts/check` describes in the environment, or None."""
        env = os.environ
        names = ("BIN", "DATA", "LOG", "PORT")
        if not all(env.get(f"PORTICO_TEST_PG_{name}") for name in names):
            return None
        return cls(
            Path(env["PORTICO_TEST_PG_BIN"]),
            Path(env["PORTICO_TEST_PG_DATA"]),
            Path(env["PORTICO_TEST_PG_LOG"]),
            int(env["PORTICO_TEST_PG_PORT"]),
            env.get("PORTICO_TEST_PG_USER", ""),
        )

    def restart(self, timeout: int = 30) -> None:
        """`pg_ctl restart -m fast`: sessions are cut, and it returns once the server is up."""
        self._pg_ctl("restart", "-m", "fast", "-w", "-t", str(timeout), timeout=timeout)

    def start(self, timeout: int = 30) -> None:
        """`pg_ctl start` with the options of its last start; returns once it is up."""
        self._pg_ctl("start", "-w", "-t", str(timeout), timeout=timeout)

    def answers(self) -> bool:
        """Whether the server accepts connections now (`pg_isready`)."""
        command = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(command, check=False, timeout=10).returncode == 0

    def _pg_ctl(self, *args: str, timeout: int) -> None:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path)]
        if self.user:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", self.user, "--", *command]
        finished = subprocess.run(
            [*command, *args],
            cwd=self.data_dir.parent,  # readable by that user
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=timeout + 10,
        )
        if finished.returncode != 0:
            output = (finished.stdout + finished.stderr).decode(errors="replace")
            reason = f"pg_ctl {args[0]} failed ({finished.returncode}):\n{output}"
            pytest.fail(reason, pytrace=False)
