"""The `portico` command: serve, worker, jobs, migrate, create-superuser, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import signal
import sys
from collections.abc import Sequence
from uuid import UUID

from pydantic import ValidationError
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from application.ports.jobs import JOB_STATES, JobRecord
from entrypoints.container import Container, close_resources, migrate_database


def _log_config(level: str, log_format: str = "text") -> dict[str, object]:
    """Every record on stderr, one a line, with its request id (`-` outside a request):
    uvicorn's too, in the same format (`text`, or `json`: see `log_formatter`)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "entrypoints.http.middleware.RequestIdLogFilter"}},
        "formatters": {"chosen": {"()": "entrypoints.cli.log_formatter", "log_format": log_format}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "chosen",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"handlers": [], "propagate": True} for name in _UVICORN_LOGGERS},
    }


def log_formatter(log_format: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT: `text` lines, or (`json`) one JSON object a line with
    `timestamp` (RFC 3339, UTC), `level`, `logger`, `message`, `request_id`, `exc_info` when
    there is one, and the fields a record carries (the access log's `method`, `route`,
    `status`, `duration_ms`, `client`). Needs the request-id filter on its handler."""
    if log_format == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            # uvicorn's startup lines carry a copy of the message with terminal colours
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from entrypoints.server import uvicorn_options
    from entrypoints.worker_metrics import share_across_workers

    settings = Container().settings()
    if args.workers > 1 and not settings.redis_url:
        print(
            "portico serve: --workers > 1 needs REDIS_URL (without it the denylist, rate limits,"
            " cache and events live in one process)",
            file=sys.stderr,
        )
        return 2

    share_across_workers(args.workers)  # one scrape counts every worker (worker_metrics.py)
    uvicorn.run(
        "entrypoints.http.asgi:create",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # client addresses are resolved from TRUSTED_PROXIES by the app
        access_log=False,
        log_config=_log_config(settings.log_level, settings.log_format),
        **uvicorn_options(settings),  # httptools, held to the server limits; the timeouts
    )
    return 0


def _worker(_: argparse.Namespace) -> int:
    """Run jobs until SIGTERM or SIGINT; then finish (or hand back) the current one, exit 0."""
    container = Container()
    settings = container.settings()
    logging.config.dictConfig(_log_config(settings.log_level, settings.log_format))
    log = logging.getLogger("portico.worker")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        runner = container.job_runner()
        container.messagebus().wake_jobs_with(runner.wake)  # jobs its own handlers write
        log.info("worker %s started", container.job_runner_settings().worker)
        try:
            await container.blobs().start()  # the attachment jobs remove stored bytes
            await container.blob_cleanup().schedule_sweep()  # this period's, if not yet enqueued
            await runner.run(stop)
        finally:
            await close_resources(container)
        log.info("worker stopped")

    asyncio.run(run())
    return 0


def _jobs_list(args: argparse.Namespace) -> int:
    async def run() -> list[JobRecord]:
        container = Container()
        try:
            return await container.job_queue().list(state=args.state, limit=args.limit)
        finally:
            await close_resources(container)

    jobs = asyncio.run(run())
    print(f"{'ID':36}  {'STATE':7}  {'TRIES':>5}  {'KIND':24}  {'RUN AFTER':25}  LAST ERROR")
    for job in jobs:
        error = (job.last_error or "").replace("\n", " ")[:120]
        run_after = job.run_after.isoformat(timespec="seconds")
        print(
            f"{job.id!s:36}  {job.state:7}  {job.attempts:>5}  {job.kind:24}  {run_after:25}"
            f"  {error}".rstrip()
        )
    return 0


def _jobs_retry(args: argparse.Namespace) -> int:
    async def run() -> JobRecord:
        container = Container()
        try:
            return await container.job_queue().retry(args.id, now=container.clock().now())
        finally:
            await close_resources(container)

    job = asyncio.run(run())
    print(f"job {job.id} ({job.kind}) is waiting again")
    return 0


def _migrate(_: argparse.Namespace) -> int:
    migrate_database(Container())
    print("database is at the latest revision")
    return 0


def _create_superuser(args: argparse.Namespace) -> int:
    from application.use_cases.accounts.create_superuser import CreateSuperuser

    async def run() -> str:
        container = Container()
        try:
            user = await container.create_superuser()(CreateSuperuser(args.email, args.password))
        finally:
            await close_resources(container)
        return user.email

    print(f"{asyncio.run(run())} is a superuser")
    return 0


def _openapi(_: argparse.Namespace) -> int:
    from entrypoints.http.app import create_app

    json.dump(create_app(Container()).openapi(), sys.stdout, indent=2)
    print()
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be from 1 to 10000")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)
    commands.add_parser("worker", help="run background jobs until SIGTERM").set_defaults(
        run=_worker
    )
    jobs = commands.add_parser("jobs", help="inspect jobs, send failed ones back to the queue")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = job_commands.add_parser("list", help="the newest jobs, newest first")
    listing.add_argument("--state", choices=JOB_STATES)
    listing.add_argument("--limit", type=_positive, default=20)
    listing.set_defaults(run=_jobs_list)
    retry = job_commands.add_parser("retry", help="send a failed job back to the queue")
    retry.add_argument("id", type=UUID, help="the job's id (from `portico jobs list`)")
    retry.set_defaults(run=_jobs_retry)
    commands.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(
        run=_migrate
    )
    superuser = commands.add_parser("create-superuser", help="create or promote a superuser")
    superuser.add_argument("--email", required=True)
    superuser.add_argument("--password", required=True)
    superuser.set_defaults(run=_create_superuser)
    commands.add_parser("openapi", help="print the OpenAPI document").set_defaults(run=_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `portico` command; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Exception as exc:  # an operator sees one line, not a traceback
        from application.errors import ApplicationError
        from domain.errors import DomainError

        if isinstance(exc, ApplicationError | DomainError):
            print(f"portico {args.command}: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, ValidationError) and exc.title == "Settings":
            for line in settings_problems(exc):
                print(f"portico {args.command}: {line}", file=sys.stderr)
            return 2
        raise


def settings_problems(error: ValidationError) -> list[str]:
    """One line per refused setting: its variable, what is wrong, and the value given (never
    for a secret)."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # a rule across settings names them itself
            lines.append(f"invalid settings: {message}")
            continue
        name = ".".join(str(part) for part in problem["loc"]).upper()
        secret = "SECRET" in name or "PASSWORD" in name or name.endswith("_KEY")
        shown = "" if secret else f" (got {problem.get('input')!r})"
        lines.append(f"invalid setting {name}: {message}{shown}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
