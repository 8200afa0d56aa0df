"""Authenticated `GET /api/v1/items/{id}` on PostgreSQL against a bare Starlette + asyncpg
endpoint reading the same row, both served by one uvicorn worker, loaded by wrk in one run.

    uv run python bench/read_path.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/db

Needs `wrk` (Debian package `wrk`). Prints requests per second of each and their ratio; the
target is Portico >= 0.45 x the bare endpoint. The database is migrated and given one user and
one item; nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(app: str, env: dict[str, str], port: int, factory: bool):
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        args.append("--factory")
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def wrk(url: str, token: str | None, seconds: int, connections: int) -> float:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    if token:
        args[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def seed(base: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        await client.post(
            "/api/v1/auth/register",
            json={"email": "bench@example.com", "password": "bench-password"},
        )
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "bench@example.com",
                    "password": "bench-password",
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        item = (await client.post("/api/v1/items", json={"title": "bench"}, headers=headers)).json()
    return token, item["id"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", help="serve Portico scaled-out style (Redis adapters)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    env = {
        "DATABASE_URL": args.database_url,
        "ENVIRONMENT": "test",
        "BCRYPT_ROUNDS": "4",
        "ACCESS_TOKEN_TTL_SECONDS": "3600",
        "LOGIN_LIMIT_PER_ADDRESS": "1000",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    with server("entrypoints.http.asgi:create", env, free_port(), factory=True) as base:
        token, item_id = asyncio.run(seed(base))
        wrk(f"{base}/api/v1/items/{item_id}", token, 2, args.connections)  # warm up
        portico = wrk(f"{base}/api/v1/items/{item_id}", token, args.seconds, args.connections)
    dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    with server("bench.bare_app:app", {"BENCH_DSN": dsn}, free_port(), factory=False) as base:
        wrk(f"{base}/items/{item_id}", None, 2, args.connections)
        bare = wrk(f"{base}/items/{item_id}", None, args.seconds, args.connections)
    print(f"bare Starlette + asyncpg : {bare:10.1f} req/s")
    print(f"Portico GET item (auth)  : {portico:10.1f} req/s")
    print(f"ratio                    : {portico / bare:10.2f}  (target >= 0.45)")


if __name__ == "__main__":
    main()
