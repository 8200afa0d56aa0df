"""Deep pages: v2's keyset page 20,000 beside its page 1, and beside v1's offset page at the
same depth, over 1,000,000 items of one owner, in one run.

    uv run --frozen python bench/paging.py                       # 1,000,000 items, 100 each
    uv run --frozen python bench/paging.py --items 100000 --repetitions 50

Starts a throwaway PostgreSQL 15 (or uses --database-url, an empty database it may migrate),
migrates it, starts `portico serve` in its production shape, and gives one user ITEMS items in
one INSERT ... SELECT generate_series (bench/seed.py: UUIDv7 ids, the owner's item count).
The cursor of the last page is made with the server's own key (the container's CursorCodec
over the same SECRET_KEY), so no 19,999 pages are walked to reach it. Then, after a warm-up,
REPETITIONS rounds of one request each, in turn and one at a time (keep-alive):

- v2 page 1:      GET /api/v2/items?limit=50
- v2 deep page:   GET /api/v2/items?limit=50&cursor=<after item ITEMS - 50 by id>
- v1 page 1:      GET /api/v1/items?limit=50
- v1 deep offset: GET /api/v1/items?skip=ITEMS-50&limit=50 (the same depth)

Prints p50 and p99 latency of each and the ratios: deep over page 1 (v2: should be about 1),
and v1's deep offset over v2's deep page.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
from dependency_injector import providers

from bench import seed
from bench.servers import ROOT, free_port, serve
from bench.stores import throwaway_postgres
from entrypoints.container import Container
from entrypoints.settings import Settings

PAGE = 50


def _options() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://)")
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--repetitions", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    return p.parse_args()


def _cursor_after(secret: str, database_url: str, position: UUID, owner: UUID) -> str:
    """The v2 cursor the server would hand out after `position` (its key, from SECRET_KEY)."""
    container = Container()
    settings = Settings(environment="test", secret_key=secret, database_url=database_url)
    container.settings.override(providers.Object(settings))
    return container.cursors().encode(position, owner)


async def _last_page_starts_after(dsn: str, owner: UUID, items: int) -> UUID:
    conn = await asyncpg.connect(dsn)
    try:
        query = "SELECT id FROM items WHERE owner_id = $1 ORDER BY id OFFSET $2 LIMIT 1"
        return UUID(str(await conn.fetchval(query, owner, items - PAGE - 1)))
    finally:
        await conn.close()


async def _timed(client: httpx.AsyncClient, path: str, token: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    body = answer.json()
    if len(body["data"] if isinstance(body, dict) else body) != PAGE:
        raise SystemExit(f"{path} did not answer a full page")
    return elapsed


async def _measure(base: str, db: str, secret: str, args: argparse.Namespace) -> None:
    dsn = db.replace("postgresql+asyncpg://", "postgresql://", 1)
    accounts = await seed.accounts(base)
    owner = UUID(accounts.list_owner)
    started = time.perf_counter()
    await seed.bulk_items(dsn, accounts.list_owner, args.items)
    print(f"seeded {args.items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    cursor = _cursor_after(secret, db, await _last_page_starts_after(dsn, owner, args.items), owner)
    paths = {
        "v2 page 1": f"/api/v2/items?limit={PAGE}",
        f"v2 page {args.items // PAGE:,} (keyset)": f"/api/v2/items?limit={PAGE}&cursor={cursor}",
        "v1 page 1": f"/api/v1/items?limit={PAGE}",
        f"v1 skip={args.items - PAGE:,} (offset)": f"/api/v1/items?skip={args.items - PAGE}"
        f"&limit={PAGE}",
    }
    samples: dict[str, list[float]] = {name: [] for name in paths}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for n in range(args.warmup + args.repetitions):
            for name, path in paths.items():
                elapsed = await _timed(client, path, accounts.list_token)
                if n >= args.warmup:
                    samples[name].append(elapsed)
    print(_table(samples))


def _ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1e3


def _table(samples: dict[str, list[float]]) -> str:
    v2_first, v2_deep, v1_first, v1_deep = samples
    p50 = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    p99 = {name: _ms(values, 0.99) for name, values in samples.items()}
    lines = ["| request | p50 ms | p99 ms |", "|---|--:|--:|"]
    lines += [f"| {name} | {p50[name]:.2f} | {p99[name]:.2f} |" for name in samples]
    lines += ["", "| ratio | p50 | p99 |", "|---|--:|--:|"]
    for label, a, b in (
        ("v2 deep page ÷ v2 page 1 (goal ≈ 1)", v2_deep, v2_first),
        ("v1 deep offset ÷ v1 page 1", v1_deep, v1_first),
        ("v1 deep offset ÷ v2 deep page", v1_deep, v2_deep),
    ):
        lines.append(f"| {label} | {p50[a] / p50[b]:.2f} | {p99[a] / p99[b]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    args = _options()
    with tempfile.TemporaryDirectory(prefix="portico-bench-paging-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # PostgreSQL runs as another user inside it
        with contextlib.ExitStack() as stack:
            db = args.database_url or stack.enter_context(throwaway_postgres(work))
            secret = secrets.token_urlsafe(48)
            env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTHONPATH")}
            env |= {"DATABASE_URL": db, "ENVIRONMENT": "production", "SECRET_KEY": secret}
            env |= {"ACCESS_TOKEN_TTL_SECONDS": "86400", "STORAGE_DIR": str(work / "files")}
            migrate = [sys.executable, "-m", "entrypoints.cli", "migrate"]
            subprocess.run(migrate, cwd=ROOT, env=env, check=True)
            port = free_port()
            argv = [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)]
            running = stack.enter_context(
                serve("portico", argv, port=port, cwd=ROOT, env=env, log_dir=work,
                      ready_path="/health/live")
            )  # fmt: skip
            asyncio.run(_measure(running.base, db, secret, args))


if __name__ == "__main__":
    main()
