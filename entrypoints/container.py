"""The composition root: the one place that chooses adapters and reads settings.

Handlers are stateless, so they are `Singleton`s built once per process; each call opens a
fresh unit of work from the `uow` `Factory` it was given. Nothing on the request path is built
per request that could be built once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dependency_injector import containers, providers

from adapters.bcrypt.hasher import BcryptPasswordHasher
from adapters.jwt.token_service import PyJwtTokenService
from adapters.limits.rate_limiter import LimitsRateLimiter
from adapters.memory.cache import InMemoryItemCache
from adapters.memory.events import InProcessEventBus
from adapters.memory.sessions import InMemoryTokenDenylist
from adapters.redis.client import RedisHealthCheck, create_client
from adapters.redis.events import RedisEventBus
from adapters.s3.blobs import S3BlobStore
from adapters.smtp.senders import LoggingEmailSender, SmtpEmailSender
from adapters.sqlalchemy.checkout import pool_usage
from adapters.sqlalchemy.denylist import SqlAlchemyTokenDenylist
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.export import SqlAlchemyItemExport
from adapters.sqlalchemy.health import SqlAlchemyHealthCheck
from adapters.sqlalchemy.jobs import SqlAlchemyJobQueue
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.storage.filesystem import FileSystemBlobStore
from adapters.system.clock import SystemClock
from application.cursors import CursorCodec
from application.idempotency import RequestFingerprints
from application.jobs.policy import JobRunnerSettings
from application.jobs.runner import JobRunner
from application.messagebus import Handlers, MessageBus
from application.ports import RateLimit
from application.resilience.cache import CacheUpdater
from application.resilience.denylist_mirror import MirroredDenylist
from application.services.known_users import KnownUsers
from application.services.revocation import SessionRevoker
from application.services.sessions import SessionIssuer
from application.services.throttle import Throttle
from application.use_cases.accounts.account_mail import AccountMail, MailSettings
from application.use_cases.accounts.authenticate import AuthenticateHandler
from application.use_cases.accounts.change_password import ChangePasswordHandler
from application.use_cases.accounts.create_superuser import CreateSuperuserHandler
from application.use_cases.accounts.get_current_user import GetCurrentUserHandler
from application.use_cases.accounts.logout import LogoutHandler
from application.use_cases.accounts.password_grant import PasswordGrantHandler, PasswordGrantLimits
from application.use_cases.accounts.password_recovery import (
    RecoverySettings,
    RequestPasswordRecoveryHandler,
)
from application.use_cases.accounts.refresh_grant import RefreshGrantHandler
from application.use_cases.accounts.register_user import RegisterUserHandler
from application.use_cases.accounts.reset_password import ResetPasswordHandler
from application.use_cases.attachments.blob_cleanup import BlobCleanup
from application.use_cases.attachments.delete_attachment import DeleteAttachmentHandler
from application.use_cases.attachments.download_attachment import DownloadAttachmentHandler
from application.use_cases.attachments.get_attachment import GetAttachmentHandler
from application.use_cases.attachments.list_attachments import ListAttachmentsHandler
from application.use_cases.attachments.upload_attachment import (
    AttachmentLimits,
    UploadAttachmentHandler,
)
from application.use_cases.items.create_item import CreateItemHandler
from application.use_cases.items.delete_item import DeleteItemHandler
from application.use_cases.items.export_items import ExportItemsHandler
from application.use_cases.items.get_item import GetItemHandler
from application.use_cases.items.list_items import ListItemsHandler
from application.use_cases.items.list_items_by_cursor import ListItemsByCursorHandler
from application.use_cases.items.update_item import UpdateItemHandler
from application.use_cases.users.administer_user import AdministerUserHandler
from application.use_cases.users.delete_user import DeleteUserHandler
from application.use_cases.users.get_user import GetUserHandler
from application.use_cases.users.list_users import ListUsersHandler
from application.use_cases.users.update_profile import UpdateProfileHandler
from domain.events import AccessRevoked, UserChanged
from entrypoints.metrics import Metrics, Readings, multiprocess_directory
from entrypoints.realtime import ConnectionHub
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


def _derived_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose, derived from SECRET_KEY so that one secret serves them all."""
    return hashlib.sha256(f"{purpose}:{secret}".encode()).digest()


def _login_limits(settings: Settings) -> PasswordGrantLimits:
    window = settings.login_limit_window_seconds
    ceiling_window = settings.login_account_ceiling_window_seconds
    return PasswordGrantLimits(
        RateLimit("login-address", settings.login_limit_per_address, window),
        RateLimit("login-account-address", settings.login_limit_per_account, window),
        RateLimit("login-account", settings.login_account_ceiling, ceiling_window),
        RateLimit("login-account-address-past-ceiling", 1, ceiling_window),
        RateLimit("login-priority", settings.login_priority_per_address, window),
    )


def _recovery(settings: Settings) -> RecoverySettings:
    limit = RateLimit(
        "recovery-address",
        settings.recovery_limit_per_address,
        settings.recovery_limit_window_seconds,
    )
    return RecoverySettings(settings.password_reset_ttl_seconds, settings.password_reset_url, limit)


def _mail_settings(settings: Settings) -> MailSettings:
    """Message ids in the sender's domain; reset tokens keyed by SECRET_KEY."""
    domain = settings.mail_from.rpartition("@")[2].strip(" >") or "portico.invalid"
    return MailSettings(domain, _derived_key(settings.secret_key, "password-reset"))


def _runner_settings(settings: Settings) -> JobRunnerSettings:
    return JobRunnerSettings(
        worker=f"{socket.gethostname()}:{os.getpid()}",
        max_attempts=settings.job_max_attempts,
        retry_base_seconds=settings.job_retry_base_seconds,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_seconds,
        grace_seconds=settings.graceful_timeout_seconds,
    )


def _metric_readings(
    hub: ConnectionHub, engine: Any, cache: InMemoryItemCache, jobs: Any
) -> Readings:
    """Where the metrics read this process's gauges and cache counts (entrypoints/metrics.py):
    the hub's sockets, the pool's counters, the cache's own hit and miss counts."""

    def pool() -> tuple[int, int]:
        usage = pool_usage(engine)
        return usage.in_use, usage.idle

    return Readings(
        websockets=hub.__len__,
        pool=pool,
        cache=lambda: (cache.hits, cache.misses),
        jobs_waiting=lambda: jobs.count("waiting"),
    )


def _throttle(
    limiter: providers.Provider[Any], namespace: str, amount: object, window: object
) -> providers.Provider[Throttle]:
    """A Throttle of `amount` hits per `window` seconds, counted by `limiter`."""
    return providers.Factory(
        Throttle, limiter, providers.Factory(RateLimit, namespace, amount, window)
    )


class Container(containers.DeclarativeContainer):
    """Wires settings → adapters → handlers. Tests build their own with overrides."""

    settings = providers.Singleton(Settings)

    clock = providers.Singleton(SystemClock)

    # Shared state: in this process when REDIS_URL is unset, in Redis when it is set. The
    # item cache and the denylist copy are always this process's own, kept exact by the
    # event bus, so reading an item costs no network round trip but the database's on a miss.
    shared_state = providers.Callable(
        lambda url: "redis" if url else "memory", settings.provided.redis_url
    )
    redis = providers.Singleton(
        create_client,
        settings.provided.redis_url,
        max_connections=settings.provided.redis_max_connections,
        pool_timeout=settings.provided.redis_pool_timeout_seconds,
    )
    redis_check = providers.Singleton(RedisHealthCheck, redis)
    event_bus = providers.Selector(
        shared_state,
        memory=providers.Singleton(InProcessEventBus),
        # Access changes are confirmed by every process before the change is answered.
        redis=providers.Singleton(RedisEventBus, redis, confirm=(AccessRevoked, UserChanged)),
    )
    item_cache = providers.Singleton(
        InMemoryItemCache,
        clock,
        ttl_seconds=settings.provided.cache_ttl_seconds,
        max_entries=settings.provided.cache_max_items,
    )
    cache_updater = providers.Singleton(CacheUpdater, item_cache)
    live_updates = providers.Singleton(ConnectionHub)  # this process's WebSockets

    engine = providers.Singleton(
        create_engine,
        settings.provided.database_url,
        pool_size=settings.provided.db_pool_size,
        max_overflow=settings.provided.db_max_overflow,
        pool_timeout=settings.provided.db_pool_timeout_seconds,
        pool_recycle=settings.provided.db_pool_recycle_seconds,
    )
    # The message bus: who reacts to what (application/messagebus.py), over the event bus.
    messagebus: providers.Singleton[MessageBus] = providers.Singleton(MessageBus)
    uow = providers.Factory(SqlAlchemyUnitOfWork, engine, messagebus)
    job_queue = providers.Singleton(SqlAlchemyJobQueue, engine)
    database_check = providers.Singleton(SqlAlchemyHealthCheck, engine)
    # Prometheus metrics; with `portico serve --workers N`, every worker's in one scrape.
    metrics = providers.Singleton(
        Metrics,
        providers.Callable(_metric_readings, live_updates, engine, item_cache, job_queue),
        providers.Callable(multiprocess_directory),
    )

    bcrypt_pool = providers.Singleton(
        ThreadPoolExecutor,
        max_workers=settings.provided.bcrypt_threads,
        thread_name_prefix="bcrypt",
    )
    hasher = providers.Singleton(
        BcryptPasswordHasher,
        rounds=settings.provided.bcrypt_rounds,
        executor=bcrypt_pool,
        max_waiting=settings.provided.bcrypt_max_waiting,
    )
    tokens = providers.Singleton(
        PyJwtTokenService,
        secret=settings.provided.secret_key,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
        ttl_seconds=settings.provided.access_token_ttl_seconds,
    )
    cursors = providers.Singleton(
        CursorCodec, providers.Callable(_derived_key, settings.provided.secret_key, "cursor")
    )
    request_fingerprints = providers.Singleton(
        RequestFingerprints,
        providers.Callable(_derived_key, settings.provided.secret_key, "idempotency"),
    )
    denylist = providers.Singleton(
        MirroredDenylist,
        providers.Singleton(SqlAlchemyTokenDenylist, engine, clock),
        providers.Singleton(InMemoryTokenDenylist, clock),
        clock,
        settings.provided.access_token_ttl_seconds,
    )
    rate_limiter = providers.Selector(
        shared_state,
        memory=providers.Singleton(LimitsRateLimiter, "memory://"),
        redis=providers.Singleton(
            LimitsRateLimiter,
            settings.provided.redis_url,
            connection_pool=redis.provided.connection_pool,
        ),
    )
    email_sender = providers.Selector(
        providers.Callable(lambda url: "smtp" if url else "log", settings.provided.smtp_url),
        log=providers.Singleton(
            LoggingEmailSender,
            include_body=providers.Callable(
                lambda env: env == "development", settings.provided.environment
            ),
        ),
        smtp=providers.Singleton(
            SmtpEmailSender, settings.provided.smtp_url, sender=settings.provided.mail_from
        ),
    )

    session_issuer = providers.Singleton(
        SessionIssuer, tokens, clock, settings.provided.refresh_token_ttl_seconds
    )
    revoker = providers.Singleton(
        SessionRevoker, denylist, clock, settings.provided.access_token_ttl_seconds
    )

    register_user = providers.Singleton(
        RegisterUserHandler,
        uow.provider,
        hasher,
        clock,
        _throttle(
            rate_limiter,
            "register-address",
            settings.provided.register_limit_per_address,
            settings.provided.register_limit_window_seconds,
        ),
    )
    password_grant = providers.Singleton(
        PasswordGrantHandler,
        uow.provider,
        hasher,
        session_issuer,
        rate_limiter,
        providers.Callable(_login_limits, settings),
        hasher.provided.lower_priority.call(),
    )
    refresh_grant = providers.Singleton(
        RefreshGrantHandler, uow.provider, session_issuer, revoker, clock
    )
    known_users = providers.Singleton(KnownUsers)
    authenticate = providers.Singleton(
        AuthenticateHandler, uow.provider, tokens, denylist, clock, known_users
    )
    logout = providers.Singleton(LogoutHandler, uow.provider, denylist, clock)
    change_password = providers.Singleton(
        ChangePasswordHandler,
        uow.provider,
        hasher,
        revoker,
        clock,
        _throttle(
            rate_limiter,
            "password-change-user",
            settings.provided.password_change_limit_per_user,
            settings.provided.password_change_limit_window_seconds,
        ),
    )
    recovery_settings = providers.Singleton(_recovery, settings)
    request_password_recovery = providers.Singleton(
        RequestPasswordRecoveryHandler, uow.provider, rate_limiter, recovery_settings
    )
    account_mail = providers.Singleton(
        AccountMail,
        uow.provider,
        clock,
        email_sender,
        recovery_settings,
        providers.Callable(_mail_settings, settings),
    )
    reset_password = providers.Singleton(ResetPasswordHandler, uow.provider, hasher, revoker, clock)
    get_current_user = providers.Singleton(GetCurrentUserHandler, uow.provider)
    create_superuser = providers.Singleton(CreateSuperuserHandler, uow.provider, hasher, clock)

    update_profile = providers.Singleton(UpdateProfileHandler, uow.provider)
    delete_user = providers.Singleton(DeleteUserHandler, uow.provider, revoker, clock)
    get_user = providers.Singleton(GetUserHandler, uow.provider)
    list_users = providers.Singleton(ListUsersHandler, uow.provider)
    administer_user = providers.Singleton(AdministerUserHandler, uow.provider, revoker, clock)

    create_item = providers.Singleton(CreateItemHandler, uow.provider, clock)
    get_item = providers.Singleton(GetItemHandler, uow.provider, item_cache)
    list_items = providers.Singleton(ListItemsHandler, uow.provider)
    list_items_by_cursor = providers.Singleton(ListItemsByCursorHandler, uow.provider, cursors)
    update_item = providers.Singleton(UpdateItemHandler, uow.provider, clock)
    delete_item = providers.Singleton(DeleteItemHandler, uow.provider, clock)
    # Exports: PostgreSQL writes the file itself (COPY); each holds one pooled connection.
    item_export = providers.Singleton(SqlAlchemyItemExport, engine)
    export_items = providers.Singleton(ExportItemsHandler, item_export)

    # Attachment bytes: files under STORAGE_DIR, or objects of S3_BUCKET when it is set.
    blobs = providers.Selector(
        providers.Callable(lambda bucket: "s3" if bucket else "files", settings.provided.s3_bucket),
        files=providers.Singleton(FileSystemBlobStore, settings.provided.storage_dir),
        s3=providers.Singleton(
            S3BlobStore,
            settings.provided.s3_bucket,
            endpoint_url=settings.provided.s3_endpoint_url,
            region=settings.provided.aws_region,
            access_key_id=settings.provided.aws_access_key_id,
            secret_access_key=settings.provided.aws_secret_access_key,
        ),
    )
    attachment_limits = providers.Singleton(
        AttachmentLimits,
        settings.provided.max_upload_bytes,
        settings.provided.max_attachments_per_item,
    )
    upload_attachment = providers.Singleton(
        UploadAttachmentHandler, uow.provider, blobs, clock, attachment_limits
    )
    list_attachments = providers.Singleton(ListAttachmentsHandler, uow.provider)
    get_attachment = providers.Singleton(GetAttachmentHandler, uow.provider)
    download_attachment = providers.Singleton(DownloadAttachmentHandler, uow.provider, blobs)
    delete_attachment = providers.Singleton(DeleteAttachmentHandler, uow.provider, clock)
    blob_cleanup = providers.Singleton(
        BlobCleanup,
        blobs,
        uow.provider,
        clock,
        settings.provided.blob_orphan_age_seconds,
        settings.provided.blob_sweep_seconds,
    )

    messagebus.add_args(
        event_bus,
        providers.Singleton(
            Handlers,
            cache_updater=cache_updater,
            item_cache=item_cache,
            known_users=known_users,
            denylist=denylist,
            live=live_updates,
            mail=account_mail,
            blobs=blob_cleanup,
        ),
        clock,
    )
    job_runner_settings = providers.Singleton(_runner_settings, settings)
    job_runner = providers.Singleton(
        JobRunner,
        job_queue,
        messagebus.provided.job_handlers.call(),
        clock,
        job_runner_settings,
        on_outcome=metrics.provided.job_finished,
    )


class InProcessJobs:
    """`JOBS_IN_PROCESS`: this process runs the job runner beside serving, woken by every
    commit here that writes jobs (and polling for others' jobs and retries)."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, container: Container) -> None:
        runner = container.job_runner()
        container.messagebus().wake_jobs_with(runner.wake)
        self._task = asyncio.create_task(runner.run(self._stop), name="portico-jobs")

    async def stop(self) -> None:
        """Let the current job finish (or hand it back after the grace time)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def open_resources(container: Container, *, serve_jobs: bool = False) -> InProcessJobs:
    """Start what runs in the background: the denylist copy, the message bus (the event-bus
    listener and the reactions of application/messagebus.py), the blob store's client, and,
    with `serve_jobs` and JOBS_IN_PROCESS, a job runner (enqueueing this period's orphan
    sweep first). Return the in-process jobs handle to stop."""
    await container.hasher().warm_up()
    await container.denylist().start()
    await container.messagebus().start()
    await container.blobs().start()
    jobs = InProcessJobs()
    if serve_jobs and container.settings().jobs_in_process:
        await container.blob_cleanup().schedule_sweep()  # this period's, if not enqueued yet
        jobs.start(container)
    return jobs


async def close_resources(container: Container) -> None:
    """Release what the container opened: listeners, connection pools and thread pools."""
    await container.messagebus().stop()
    await container.blobs().close()
    await container.denylist().close()
    if container.settings().redis_url:
        await container.redis().aclose()
    await container.engine().dispose()
    container.bcrypt_pool().shutdown(wait=False, cancel_futures=True)


def readiness_checks(container: Container) -> dict[str, Callable[[], Awaitable[None]]]:
    """The dependency checks behind /health/ready, by name."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "database": container.database_check().check
    }
    if container.settings().redis_url:
        checks["redis"] = container.redis_check().check
    return checks


def migrate_database(container: Container) -> None:
    """Bring the configured database to the latest schema revision (Alembic `upgrade head`)."""
    upgrade(container.settings().database_url)
