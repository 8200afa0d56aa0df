"""Portico's read path in its production shape against a bare Starlette + asyncpg baseline.

    uv run --frozen python bench/read_path.py            # everything, twice (about 12 minutes)
    uv run --frozen python bench/read_path.py --quick    # a smoke run: a few seconds a load

Starts a throwaway PostgreSQL 15 and redis-server (or uses --database-url/--redis-url), the
servers of the chosen scenarios, seeds them, loads each with wrk and prints markdown tables:
every load with its ratio to the bare baseline of the same round, then the goals. Every
server it started is stopped however it ends. See bench/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from argparse import Namespace
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seed
from bench.report import Round, goals_table, loads_table, unavailable_summary
from bench.rounds import Target, run_round
from bench.scenarios import SCENARIOS, SERVERS, Measure, ServerSpec, chosen
from bench.servers import ROOT, Running, free_port, serve
from bench.stores import throwaway_postgres, throwaway_redis

# Dropped from the servers' environment: set by the bench itself, or (PYTHONDONTWRITEBYTECODE)
# making every worker recompile its imports, which can outlast uvicorn's 5 s worker check.
_DROPPED = (
    "DATABASE_URL", "REDIS_URL", "PYTHONPATH", "SECRET_KEY", "ENVIRONMENT",
    "PYTHONDONTWRITEBYTECODE",
)  # fmt: skip


def _options() -> Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://)")
    p.add_argument("--redis-url", help="a Redis server to use instead of a throwaway one")
    p.add_argument("--portico-root", type=Path, default=ROOT, help="the checkout to serve")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument("--rounds", type=int, default=2, help="times to run every load")
    p.add_argument("--seconds", type=int, default=10, help="length of each load")
    p.add_argument("--many-seconds", type=int, default=30, help="length of the 256-conn loads")
    p.add_argument("--slices", type=int, default=5, help="interleaved slices of each load")
    p.add_argument("--warmup", type=int, default=2, help="seconds of load before each one")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--many-connections", type=int, default=256)
    p.add_argument("--items", type=int, default=100_000, help="items of the listing owner")
    p.add_argument("--log-dir", type=Path, help="where server logs go (default: a new temp dir)")
    p.add_argument("--quick", action="store_true", help="1 round, 1 slice of 3 s, 1 s warm-up")
    if "--quick" in sys.argv:  # new defaults: options given beside it still win
        p.set_defaults(rounds=1, slices=1, seconds=3, many_seconds=3, warmup=1)
    args = p.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    return args


def _python(root: Path) -> str:
    python = root.resolve() / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: run `uv sync --frozen` in {root}")
    return str(python)


def _granian_dir(work: Path, python: str) -> str:
    """granian installed into a throwaway directory: nothing in the project changes."""
    target = work / "granian"
    install = ["uv", "pip", "install", "--quiet", "--target", str(target), "--python", python]
    subprocess.run([*install, "granian"], check=True)
    version = subprocess.run(
        [python, "-c", "import granian; print(granian.__version__)"],
        env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True,
    )  # fmt: skip
    print(f"granian {version.stdout.strip()} in {target}", flush=True)
    return str(target)


def _plain(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg itself."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _env(spec: ServerSpec, db: str, redis: str, secret: str, granian: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    if not spec.portico:
        return {**env, "BENCH_DSN": _plain(db)}
    env |= {"DATABASE_URL": db, "ENVIRONMENT": "production", "SECRET_KEY": secret}
    env["ACCESS_TOKEN_TTL_SECONDS"] = "86400"  # one token lasts the whole run
    if spec.redis:
        env["REDIS_URL"] = redis
    if spec.granian and granian:
        env["PYTHONPATH"] = granian
    return env


def _target(m: Measure, server: Running, accounts: seed.Accounts, args: Namespace) -> Target:
    path = m.path.format(item_id=accounts.item_id, owner=accounts.list_owner)
    token = (accounts.list_token if m.lists_account else accounts.token) if m.needs_token else None
    connections = args.many_connections if m.many else args.connections
    seconds = max(1, (args.many_seconds if m.many else args.seconds) // args.slices)
    return Target(m, server, path, token, connections, seconds)


def _run(
    args: Namespace, stack: contextlib.ExitStack, log_dir: Path
) -> tuple[list[Round], dict[str, Path]]:
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-bench-")))
    work.chmod(0o755)  # PostgreSQL runs as another user inside it
    db = args.database_url or stack.enter_context(throwaway_postgres(work))
    redis = args.redis_url or stack.enter_context(throwaway_redis(work))
    python = _python(args.portico_root)
    measures = chosen(set(args.scenarios.split(",")))
    names = sorted({m.server for m in measures}, key=list(SERVERS).index)
    migrate = [python, "-m", "entrypoints.cli", "migrate"]
    env = _env(SERVERS["portico-redis"], db, redis, secrets.token_urlsafe(48), None)
    subprocess.run(migrate, cwd=args.portico_root, env=env, check=True, capture_output=True)
    granian = _granian_dir(work, python) if "granian" in names else None
    secret = env["SECRET_KEY"]
    servers: dict[str, Running] = {}
    for name in names:
        spec, port = SERVERS[name], free_port()
        servers[name] = stack.enter_context(
            serve(
                name,
                spec.argv(python, port),
                port=port,
                cwd=spec.cwd(args.portico_root),
                env=_env(spec, db, redis, secret, granian),
                log_dir=log_dir,
                ready_path=spec.ready_path,
                settle=3.0 if spec.workers > 1 else 0.0,
            )
        )
    portico = next(s for n, s in servers.items() if SERVERS[n].portico)
    accounts = asyncio.run(seed.accounts(portico.base))
    counted = asyncio.run(seed.bulk_items(_plain(db), accounts.list_owner, args.items))
    print(f"seeded {args.items} items of one owner; item_counts row set: {counted}", flush=True)
    targets = [_target(m, servers[m.server], accounts, args) for m in measures]
    for target in targets:
        print("  checked " + target.check(args.items), flush=True)
    rounds = []
    for n in range(1, args.rounds + 1):
        print(f"round {n} of {args.rounds}", flush=True)
        rounds.append(run_round(n, targets, args.slices, args.warmup))
    logs = {name: s.log for name, s in servers.items() if SERVERS[name].portico}
    return rounds, logs


def _describe(root: Path) -> str:
    """The checkout served: its commit, and whether its work tree differs from it."""
    done = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return f"{root.resolve()} at {done.stdout.strip() or 'an unknown commit'}"


def main() -> None:
    args = _options()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop every server
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="portico-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"serving {_describe(args.portico_root)}; server logs in {log_dir}", flush=True)
    print(
        f"{args.rounds} round(s); {args.seconds} s a load ({args.many_seconds} s at"
        f" {args.many_connections} conns) in {args.slices} interleaved slices, after"
        f" {args.warmup} s of warm-up; wrk -t1",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        rounds, logs = _run(args, stack, log_dir)
    print("\n" + loads_table(rounds) + "\n\n" + goals_table(rounds))
    print('\nLog lines containing "unavailable", by kind:\n' + unavailable_summary(logs))


if __name__ == "__main__":
    main()
