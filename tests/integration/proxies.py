"""The servers operators put in front of Portico, run by a test of its own: nginx (rendered from
`deploy/nginx.conf`) and PgBouncer (an ini written here), each in the foreground on a free
loopback port, in a directory of its own, stopped by whoever started it.

`scripts/check` installs both (Debian's `nginx-light` and `pgbouncer`) and exports their paths
as `PORTICO_TEST_NGINX` and `PORTICO_TEST_PGBOUNCER`; without them the tests that need them are
skipped, or fail where the servers are required (`PORTICO_REQUIRE_SERVERS=1`, `CI=true`).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.integration.servers import REPO_ROOT, free_port

NGINX_CONF = REPO_ROOT / "deploy" / "nginx.conf"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def server_binary(variable: str, name: str) -> str:
    """The executable `variable` names, else `name` on PATH (or in /usr/sbin); skips the test
    without one, or fails it where the servers are required."""
    found = os.environ.get(variable) or shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found:
        return found
    message = f"{name} is not installed: set {variable} (bash scripts/check installs it)"
    required = os.environ.get("PORTICO_REQUIRE_SERVERS") == "1"
    if required or os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def shared_directory(prefix: str) -> Iterator[Path]:
    """A fresh directory that other users can enter (nginx's workers and, as root, PgBouncer
    run as another user; pytest's own temporary directories are private); removed after."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Return once `port` accepts connections; fail the test with `log` if it does not."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.02)
        else:
            return
    process.kill()
    process.wait()
    pytest.fail(f"{what} did not start:\n{log.read_text(errors='replace')}", pytrace=False)


def stop(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send `signum`, then SIGKILL if the process is still there after a grace period."""
    if process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- nginx --------------------------------------------------------------------------------------


def render_nginx_conf(template: str, *, port: int, upstreams: list[int], directory: Path) -> str:
    """`deploy/nginx.conf` as a test runs it: listening on 127.0.0.1:`port`, proxying to the
    `upstreams` ports on 127.0.0.1, with its pid file, logs and temporary files in `directory`.
    Every other line is the deployed file's own. Fails if a line it replaces has gone."""
    replacements = [
        (r"^user .*;$", ""),  # as root, the workers run as `nobody` (they only write temp files)
        (r"^pid .*;$", f"pid {directory / 'nginx.pid'};"),
        (r"^error_log \S+", f"error_log {directory / 'error.log'}"),
        (r"^(\s*access_log) \S+", rf"\1 {directory / 'access.log'}"),
        (r"^(\s*)listen 80;$", rf"\1listen 127.0.0.1:{port};"),
        (
            r"^http \{$",
            "http {\n"
            + "".join(f"    {n}_temp_path {directory / n};\n" for n in TEMP_PATHS).rstrip("\n"),
        ),
    ]
    replacements += [
        (rf"^(\s*)server 127\.0\.0\.1:{8001 + n}( |;)", rf"\g<1>server 127.0.0.1:{upstream}\2")
        for n, upstream in enumerate(upstreams)
    ]
    rendered = template
    for pattern, replacement in replacements:
        rendered, count = re.subn(pattern, replacement, rendered, flags=re.MULTILINE)
        assert count == 1, f"deploy/nginx.conf: expected one line matching {pattern!r}"
    return rendered


class NginxServer:
    """`nginx -p DIR -c nginx.conf -g 'daemon off;'`, as the current user, on a free port."""

    def __init__(self, binary: str, directory: Path, upstreams: list[int]) -> None:
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            render_nginx_conf(
                NGINX_CONF.read_text(), port=self.port, upstreams=upstreams, directory=directory
            )
        )
        self.log_path = directory / "nginx.out"
        self.access_log = directory / "access.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    def start(self) -> None:
        command = [
            self.binary, "-p", str(self.directory), "-c", str(self.conf),
            "-e", str(self.directory / "error.log"), "-g", "daemon off;",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self._process, self.log_path, "nginx")

    def stop(self) -> None:
        """A graceful stop (SIGQUIT: finish what is in flight), then SIGKILL if need be."""
        process, self._process = self._process, None
        if process is not None:
            stop(process, signal.SIGQUIT)

    def access_lines(self) -> list[str]:
        """The access log so far, one request a line (see `log_format portico`)."""
        if not self.access_log.exists():
            return []
        return self.access_log.read_text(errors="replace").splitlines()

    def upstreams_of(self, request_ids: set[str], timeout: float = 2.0) -> list[str]:
        """Which upstream address answered each of these requests, in log order. nginx logs a
        request once its response is sent, so the last lines may come a moment after the
        client has its answer: waits up to `timeout` for one line per request."""
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for line in self.access_lines():
                request_id = re.search(r"request_id=(\S+)", line)
                upstream = re.search(r"upstream=(\S+)", line)
                if request_id and upstream and request_id.group(1) in request_ids:
                    found.append(upstream.group(1))
            if len(found) >= len(request_ids) or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_nginx(binary: str, directory: Path, upstreams: list[int]) -> Iterator[NginxServer]:
    """A started `NginxServer` in front of the `upstreams` ports; stopped after the block."""
    server = NginxServer(binary, directory, upstreams)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PgBouncer ----------------------------------------------------------------------------------


def pgbouncer_version(binary: str) -> tuple[int, ...]:
    """`pgbouncer --version`'s version, e.g. (1, 18, 0)."""
    output = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    match = re.search(r"PgBouncer (\d+(?:\.\d+)+)", output)
    assert match, output
    return tuple(int(part) for part in match.group(1).split("."))


class PgBouncer:
    """A PgBouncer in front of the PostgreSQL server `server_url` names, on a free port.

    `databases` maps the names clients connect to onto (database on the server, pool mode,
    server connections);
    `settings` go into the `[pgbouncer]` section as they are. Clients are trusted (the
    throwaway cluster trusts its loopback clients too). Run as `run_as` when given: PgBouncer
    refuses to run as root.
    """

    def __init__(
        self,
        binary: str,
        directory: Path,
        server_url: str,
        databases: Mapping[str, tuple[str, str, int]],
        settings: Mapping[str, str],
        run_as: str = "",
    ) -> None:
        self.binary, self.directory, self.run_as = binary, directory, run_as
        self.port = free_port()
        server = make_url(server_url)
        self.user = server.username or "postgres"
        self.ini = directory / "pgbouncer.ini"
        self.log_path = directory / "pgbouncer.log"
        userlist = directory / "userlist.txt"
        userlist.write_text(f'"{self.user}" ""\n')
        lines = ["[databases]"]
        for alias, (database, mode, pool_size) in databases.items():
            lines.append(
                f"{alias} = host={server.host} port={server.port} dbname={database}"
                f" user={self.user} pool_mode={mode} pool_size={pool_size}"
            )
        lines += [
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {userlist}",
            f"admin_users = {self.user}",
            *(f"{key} = {value}" for key, value in settings.items()),
        ]
        self.ini.write_text("\n".join(lines) + "\n")
        for path in (self.ini, userlist):
            path.chmod(0o644)
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, alias: str, query: str = "") -> str:
        """The SQLAlchemy URL of database `alias` through this PgBouncer."""
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{alias}{query}"

    def start(self) -> None:
        account = pwd.getpwnam(self.run_as) if self.run_as else None
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, str(self.ini)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
            )
        wait_for_port(self.port, self._process, self.log_path, "pgbouncer")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if need be."""
        process, self._process = self._process, None
        if process is not None:
            stop(process, signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
