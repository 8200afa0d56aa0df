"""`portico serve` in a child process, started as an operator starts it (no `uv`), for tests
that need the real server: its protocol limits, its timeouts, its shutdown.

Everything is configured through the environment; the output goes to a log file that a failing
test shows. A `PorticoProcess` is stopped by whoever started it.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.integration.servers import ApiServer

SECRET_KEY = "hardening-test-secret-0123456789abcdef0123456789"


def portico_environment(database_url: str, **settings: str) -> dict[str, str]:
    """This process's environment with a Portico configuration over it (no Redis)."""
    base = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    return {
        **base,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "SECRET_KEY": SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        "REGISTER_LIMIT_PER_ADDRESS": "100000",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


class PorticoProcess(ApiServer):
    """One `python -m entrypoints.cli serve` on a loopback port, optionally with a lower
    open-file limit; also measures its memory and how it ends on SIGTERM."""

    def __init__(
        self, name: str, env: Mapping[str, str], log_dir: Path, open_files: int | None = None
    ) -> None:
        super().__init__(name, env, log_dir)
        self.open_files = open_files

    def command(self) -> list[str]:
        return [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(self.port)]

    def start(self) -> None:
        super().start()
        if self.open_files is not None and self._process is not None:  # before it accepts
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.prlimit(self._process.pid, resource.RLIMIT_NOFILE, (self.open_files, hard))

    def resident_bytes(self) -> int:
        """The process's resident memory (VmRSS), in bytes."""
        assert self._process is not None
        for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")

    def log(self, since: int = 0) -> str:
        """Everything the process wrote from byte offset `since`."""
        return self.log_between(since, self.log_size()) if self.log_path.exists() else ""
