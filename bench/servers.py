"""HTTP servers under test: started as child processes, output kept in a file, always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 60.0
STOP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A started server: where it answers and the file its stderr (and stdout) goes to."""

    name: str
    base: str
    log: Path

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def lines_since(self, offset: int, word: str) -> int:
        """How many lines written after `offset` contain `word`."""
        with self.log.open("rb") as f:
            f.seek(offset)
            return sum(word.encode() in line for line in f)


def uvicorn_argv(
    python: str, app: str, port: int, *, factory: bool = False, workers: int = 1
) -> list[str]:
    """uvicorn as Portico serves: uvloop, httptools, no access log."""
    argv = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    argv += ["--log-level", "warning", "--workers", str(workers)]
    return [*argv, "--factory"] if factory else argv


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise SystemExit(f"server for {url} did not come up (exit {proc.poll()}):\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the session it leads: its workers too
        proc.wait()


@contextmanager
def serve(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    cwd: Path,
    env: Mapping[str, str],
    log_dir: Path,
    ready_path: str = "/",
    settle: float = 0.0,
) -> Iterator[Running]:
    """Run `argv` (a server listening on `port`) until the block ends; output to log_dir/name.log.

    `env` is the whole environment of the child. The child leads its own session, so a
    Ctrl-C reaches only this script, which stops the server itself. `settle`: seconds to
    wait after the first answer (for the other workers of a multi-worker server).
    """
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, base + ready_path, log)
        time.sleep(settle)
        yield Running(name, base, log)
    finally:
        _stop(proc)


@contextmanager
def server(app: str, env: Mapping[str, str], port: int, factory: bool) -> Iterator[str]:
    """One uvicorn worker serving `app` from the working tree; yields its base URL."""
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    argv = uvicorn_argv(sys.executable, app, port, factory=factory)
    with serve(
        f"bench-{port}", argv, port=port, cwd=ROOT, env={**os.environ, **env}, log_dir=log_dir
    ) as running:
        yield running.base
