"""Do sign-ins at production bcrypt cost stall other requests?

Serves Portico (one uvicorn worker, SQLite, BCRYPT_ROUNDS=12) and measures the latency of
`/health/live` (no database) and of an authenticated `GET /api/v1/items` (a database read
every time) twice in one run: alone, then while concurrent password grants keep the bcrypt
pool busy. bcrypt runs on a bounded thread pool off the event loop and no database
connection is held while it runs, so both should barely move (ratios near 1; a blocking
hash would add ~0.2 s, a connection held across bcrypt would queue the reads behind it).

    uv run python bench/login_stall.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time

import httpx

from bench.servers import free_port, server

LOGINS_IN_FLIGHT = 8


async def latencies(base: str, path: str, count: int, headers: dict[str, str]) -> list[float]:
    samples = []
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        for _ in range(count):
            start = time.perf_counter()
            (await client.get(path)).raise_for_status()
            samples.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
    return samples


async def keep_signing_in(base: str, stop: asyncio.Event) -> int:
    form = {"grant_type": "password", "username": "load@example.com", "password": "a password!"}
    done = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one() -> None:
            nonlocal done
            while not stop.is_set():
                (await client.post("/api/v1/auth/token", data=form)).raise_for_status()
                done += 1

        await asyncio.gather(*(one() for _ in range(LOGINS_IN_FLIGHT)))
    return done


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"


async def run(base: str) -> None:
    form = {"grant_type": "password", "username": "load@example.com", "password": "a password!"}
    async with httpx.AsyncClient(base_url=base) as client:
        await client.post(
            "/api/v1/auth/register", json={"email": "load@example.com", "password": "a password!"}
        )
        token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
    probes = {  # one that never touches the database, one that reads it on every call
        "/health/live": {},
        "/api/v1/items": {"Authorization": f"Bearer {token}"},
    }
    idle = {path: await latencies(base, path, 200, h) for path, h in probes.items()}
    stop = asyncio.Event()
    logins = asyncio.create_task(keep_signing_in(base, stop))
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    busy = {path: await latencies(base, path, 200, h) for path, h in probes.items()}
    stop.set()
    count = await logins
    print(f"{count / (time.perf_counter() - started):.1f} logins/s in the background")
    for path in probes:
        ratio = statistics.median(busy[path]) / statistics.median(idle[path])
        print(f"{path:15s} alone  : {summary(idle[path])}")
        print(f"{path:15s} logins : {summary(busy[path])}   p50 ratio {ratio:.2f}")


def main() -> None:
    db = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    env = {
        "DATABASE_URL": db,
        "BCRYPT_ROUNDS": "12",
        "LOGIN_LIMIT_PER_ADDRESS": "100000",
        "LOGIN_LIMIT_PER_ACCOUNT": "100000",
        "LOGIN_ACCOUNT_CEILING": "100000",  # one account signs in from one address, hundreds
        "LOGIN_PRIORITY_PER_ADDRESS": "100000",  # of times: no throttle or queue share applies
        "BCRYPT_MAX_WAITING": "32",  # 8 concurrent grants wait, never shed
    }
    import os
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "migrate"],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    with server("entrypoints.http.asgi:create", env, free_port(), factory=True) as base:
        asyncio.run(run(base))


if __name__ == "__main__":
    main()
