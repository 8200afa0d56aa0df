"""`portico worker` in child processes, and the `portico` command run once, as an operator runs
them (no `uv`), for tests of the durable jobs: crashes, graceful stops, several workers.

A worker is configured through its environment and logs at INFO to a file that a failing test
shows (`logs_shown_on_failure` takes workers as it takes API processes). Whoever starts a
`PorticoWorker` stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.servers import REPO_ROOT, ApiServer

STARTED = "INFO portico.worker"
"""The worker's first line: logged once its SIGTERM and SIGINT handlers are in place."""
START_TIMEOUT_SECONDS = 20.0
COMMAND_TIMEOUT_SECONDS = 30.0


class PorticoWorker(ApiServer):
    """One `python -m entrypoints.cli worker`: `start`, `wait_ready`, then `stop`, `kill` or
    `terminate`. It listens on no port (the inherited one is unused)."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        super().__init__(name, {**env, "LOG_LEVEL": "INFO"}, log_dir)
        self.log_path = log_dir / f"worker-{name}.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "entrypoints.cli", "worker"]

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Return once the worker says it started (it handles SIGTERM from then on); fail the
        test with its log if it exits or stays silent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                self.fail(f"exited with status {self._process.returncode} while starting")
            if STARTED in self.log():
                return
            time.sleep(0.05)
        self.fail(f"did not start within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL (a crash: nothing is handed back) and wait until it is gone."""
        assert self._process is not None
        self._process.kill()
        self._process.wait()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def fail(self, reason: str) -> None:
        pytest.fail(f"worker {self.name} {reason}; its output:\n{self.log()}", pytrace=False)


@contextmanager
def running_workers(
    names: list[str], env: Mapping[str, str], log_dir: Path
) -> Iterator[list[PorticoWorker]]:
    """Start one worker per name in parallel, wait until each has started, stop them after."""
    workers = [PorticoWorker(name, env, log_dir) for name in names]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def portico(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `portico ARGS...` to its end; its status and output (stdout, stderr) as text."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def socket_owner(pids: list[int], port: int) -> int | None:
    """Which of the processes `pids` holds the open TCP socket whose local port is `port`
    (say, the client end of a connection a server in this process accepted); None if none."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:  # closed meanwhile
                continue
    return None
