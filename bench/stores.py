"""Throwaway PostgreSQL and Redis servers on free loopback ports, stopped however a run ends.

PostgreSQL is a fresh cluster (initdb + pg_ctl) with durability off and room for ~300
connections; as root its tools run as `postgres` (PostgreSQL refuses root). Redis keeps
nothing on disk.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from bench.servers import free_port

DATABASE = "portico_bench"
PG_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    " -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB"
)


def _pg_user() -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL tool unprivileged when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise SystemExit("running as root, but neither a `postgres` nor a `nobody` user exists")


async def _create_database(port: int) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres")
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()


def _pg_bin(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise SystemExit(f"{tool} not found: put the PostgreSQL 15 server binaries on PATH")
    return str(Path(os.path.realpath(found)).parent / tool)


@contextmanager
def throwaway_postgres(work: Path) -> Iterator[str]:
    """A new cluster under `work`; yields its `postgresql+asyncpg://` URL."""
    as_pg = _pg_user()
    home = work / "pg"
    home.mkdir()
    if as_pg:
        os.chown(home, as_pg["user"], as_pg["group"])
    data, port = home / "data", free_port()
    quiet: dict[str, Any] = {"cwd": work, "capture_output": True, "text": True, **as_pg}
    initdb = [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale"]
    done = subprocess.run([*initdb, "--auth=trust", "--no-sync"], **quiet)
    if done.returncode:
        raise SystemExit(f"initdb failed:\n{done.stdout}{done.stderr}")
    options = f"{PG_SETTINGS} -p {port} -c unix_socket_directories={home}"
    pg_ctl = _pg_bin("pg_ctl")
    log = home / "server.log"
    start = [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"]
    try:
        done = subprocess.run(start, **quiet)
        if done.returncode:
            raise SystemExit(f"PostgreSQL did not start:\n{log.read_text(errors='replace')}")
        asyncio.run(_create_database(port))
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"]
            subprocess.run(stop, **quiet)


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def throwaway_redis(work: Path) -> Iterator[str]:
    """A redis-server child process without persistence; yields its `redis://` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (Debian package redis-server)")
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    log = (work / "redis.log").open("w")
    proc = subprocess.Popen([*argv, "no", "--dir", str(work)], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if _pong(port):
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("redis-server did not answer PING")
        if proc.poll() is not None:
            raise SystemExit(f"redis-server exited:\n{(work / 'redis.log').read_text()}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
