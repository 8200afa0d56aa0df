"""The item export over HTTP against PostgreSQL's own COPY of the same rows, in one run.

    uv run --frozen python bench/export.py                     # 1,000,000 items, 3 rounds
    uv run --frozen python bench/export.py --items 100000 --rounds 1

Starts a throwaway PostgreSQL 15 (or uses --database-url, an empty database it may migrate),
migrates it, starts `portico serve` in its production shape, registers one user and gives it
ITEMS items in one INSERT ... SELECT generate_series (two in three with a description holding
commas and quotes). Then, each round, for NDJSON and CSV in turn:

- COPY: `COPY (SELECT <the item columns> ... ORDER BY created_at, id) TO STDOUT (FORMAT csv)`
  through asyncpg, output counted and dropped: PostgreSQL's own dump of the rows, the baseline;
- COPY of the export's SELECT: the export's own query under COPY (its bytes, without HTTP);
- HTTP: `GET /api/v1/items/export?format=...` read by an httpx streaming client as fast as it
  can, every line counted; and the API process's peak RSS growth during it (VmHWM, reset
  before each export through /proc/<pid>/clear_refs, against VmRSS just before).

Prints one markdown table: rows/s (median of the rounds), each ratio to COPY (median of the
per-round ratios), the time to the first byte, and the RSS growth (the worst round).
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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx

from adapters.sqlalchemy.copy_export import COPY_OPTIONS, QUERIES
from application.export_format import ExportFormat
from bench import seed
from bench.servers import ROOT, free_port, serve
from bench.stores import throwaway_postgres

_FILL = """
INSERT INTO items (id, owner_id, title, description, version, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'export item ' || n,
       CASE WHEN n % 3 > 0 THEN 'a note, with "quotes" and commas, number ' || n END, 1, at, at
FROM generate_series(1, $3) AS n, LATERAL (SELECT $2::timestamptz + n * interval '1 ms') AS t(at)
"""
_PLAIN = """
SELECT id, owner_id, title, description, version, created_at, updated_at
FROM items WHERE owner_id = $1 ORDER BY created_at, id
"""
_SNAPSHOT = (  # as the export reads: one snapshot, UTC, no sort in the plan
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
    " SET LOCAL TimeZone TO 'UTC'; SET LOCAL enable_sort TO off"
)


def _options() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://)")
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _copy(dsn: str, query: str, owner: UUID, options: dict[str, object]) -> float:
    """Seconds COPY takes to write the query's rows to this process (counted, dropped)."""
    conn = await asyncpg.connect(dsn)
    written = 0

    async def sink(data: bytes) -> None:
        nonlocal written
        written += len(data)

    try:
        await conn.execute(_SNAPSHOT)
        started = time.perf_counter()
        await conn.copy_from_query(query, owner, output=sink, **options)
        return time.perf_counter() - started
    finally:
        await conn.close()


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no {field} for process {pid}")


async def _http(
    base: str, token: str, fmt: ExportFormat, items: int, pid: int
) -> tuple[float, ...]:
    """(seconds, seconds to the first byte, peak RSS growth in bytes) of one export."""
    lines, first = 0, 0.0
    rss = _status(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        started = time.perf_counter()
        async with client.stream("GET", "/api/v1/items/export", params={"format": fmt.value},
                                 headers=headers) as answer:  # fmt: skip
            answer.raise_for_status()
            async for chunk in answer.aiter_raw():
                first = first or time.perf_counter() - started
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
    expected = items + (fmt is ExportFormat.CSV)
    if lines != expected:
        raise SystemExit(f"{fmt} export had {lines} lines, not {expected}")
    return elapsed, first, _status(pid, "VmHWM") - rss


@contextlib.contextmanager
def _portico(db: str, work: Path) -> Iterator[tuple[str, int]]:
    """`portico serve` in its production shape; yields its base URL and process id."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTHONPATH")}
    env |= {"DATABASE_URL": db, "ENVIRONMENT": "production", "STORAGE_DIR": str(work / "files")}
    env |= {"SECRET_KEY": secrets.token_urlsafe(48), "ACCESS_TOKEN_TTL_SECONDS": "86400"}
    python = sys.executable
    subprocess.run([python, "-m", "entrypoints.cli", "migrate"], cwd=ROOT, env=env, check=True)
    port = free_port()
    argv = [python, "-m", "entrypoints.cli", "serve", "--port", str(port)]
    with serve("portico", argv, port=port, cwd=ROOT, env=env, log_dir=work,
               ready_path="/health/live") as running:  # fmt: skip
        pid = int(subprocess.check_output(["pgrep", "-f", f"serve --port {port}"]).split()[0])
        yield running.base, pid


async def _seed(base: str, dsn: str, items: int) -> tuple[str, UUID]:
    accounts = await seed.accounts(base)
    owner = UUID(accounts.list_owner)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.execute(_FILL, owner, datetime(2026, 1, 1, tzinfo=UTC), items)
        await conn.execute("VACUUM ANALYZE items")
        print(f"seeded {items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()
    return accounts.list_token, owner


async def _measure(base: str, pid: int, dsn: str, args: argparse.Namespace) -> None:
    token, owner = await _seed(base, dsn, args.items)
    rows: dict[ExportFormat, list[dict[str, float]]] = {fmt: [] for fmt in ExportFormat}
    hwm_before = _status(pid, "VmHWM")
    for n in range(1, args.rounds + 1):
        for fmt in ExportFormat:
            copy = await _copy(dsn, _PLAIN, owner, {"format": "csv"})
            own = await _copy(dsn, QUERIES[fmt], owner, COPY_OPTIONS[fmt])
            http, first, growth = await _http(base, token, fmt, args.items, pid)
            rows[fmt].append(
                {"copy": copy, "own": own, "http": http, "first": first, "rss": growth}
            )
            print(f"round {n} {fmt}: COPY {copy:.2f} s, export SELECT {own:.2f} s,"
                  f" HTTP {http:.2f} s (first byte {first * 1e3:.0f} ms)", flush=True)  # fmt: skip
    print(f"\nAPI process VmHWM: {hwm_before / 2**20:.0f} MiB before the first export (clear_refs"
          f" then resets it per export)\n")  # fmt: skip
    print(_table(rows, args.items))


def _table(rows: dict[ExportFormat, list[dict[str, float]]], items: int) -> str:
    out = ["| format | COPY rows/s | COPY of export SELECT rows/s | HTTP rows/s | HTTP ÷ COPY"
           " (goal ≥ 0.6) | HTTP ÷ export SELECT | first byte ms | peak RSS growth MiB"
           " (goal < 50) |", "|---|--:|--:|--:|--:|--:|--:|--:|"]  # fmt: skip
    for fmt, runs in rows.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        vs_copy = statistics.median(run["copy"] / run["http"] for run in runs)
        vs_own = statistics.median(run["own"] / run["http"] for run in runs)
        worst_rss = max(run["rss"] for run in runs) / 2**20
        out.append(
            f"| {fmt} | {items / median['copy']:,.0f} | {items / median['own']:,.0f} |"
            f" {items / median['http']:,.0f} | {vs_copy:.2f} | {vs_own:.2f} |"
            f" {median['first'] * 1e3:.0f} | {worst_rss:.1f} |"
        )
    return "\n".join(out)


def main() -> None:
    args = _options()
    with tempfile.TemporaryDirectory(prefix="portico-bench-export-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # PostgreSQL runs as another user inside it
        with contextlib.ExitStack() as stack:
            db = args.database_url or stack.enter_context(throwaway_postgres(work))
            base, pid = stack.enter_context(_portico(db, work))
            asyncio.run(_measure(base, pid, _plain(db), args))


if __name__ == "__main__":
    main()
