"""Settings: read from the environment (and `.env`) here and nowhere else."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "development-secret-change-me-0123456789abcdef"  # noqa: S105 - refused in production
MIN_PRODUCTION_SECRET_BYTES = 32


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of a Portico process. Defaults give the embedded, single-process service."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./portico.db"
    redis_url: str | None = None
    secret_key: str = DEVELOPMENT_SECRET
    access_token_ttl_seconds: int = Field(900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(14 * 86_400, ge=60, le=365 * 86_400)
    bcrypt_rounds: int = Field(12, ge=4, le=16)
    bcrypt_threads: int = Field(2, ge=1, le=32)
    bcrypt_max_waiting: int = Field(8, ge=1, le=10_000)
    cors_origins: Annotated[list[str], NoDecode] = []
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Who may read GET /metrics (addresses or networks, comma-separated), matched against the
    # client's address as resolved through TRUSTED_PROXIES; everyone else gets a 404.
    metrics_allow: Annotated[list[str], NoDecode] = ["127.0.0.0/8", "::1"]
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1)
    max_request_body_bytes: int = Field(1024 * 1024, ge=1024)
    storage_dir: str = "./storage"
    max_attachments_per_item: int = Field(20, ge=1, le=10_000)
    # Attachment bytes go to STORAGE_DIR unless S3_BUCKET names a bucket (any S3-compatible
    # store, shared by every host). Unset credentials and region: the standard AWS chain.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    # AWS_REGION wins over AWS_DEFAULT_REGION, as in the AWS SDKs and CLI.
    aws_region: str | None = Field(
        None, validation_alias=AliasChoices("aws_region", "aws_default_region")
    )
    # The orphan sweep (README "Attachments"): how often, and how old an unclaimed blob must be.
    blob_sweep_seconds: int = Field(3600, ge=60, le=7 * 86_400)
    blob_orphan_age_seconds: int = Field(3600, ge=60)
    smtp_url: str | None = None
    mail_from: str = "Portico <no-reply@portico.invalid>"
    password_reset_ttl_seconds: int = Field(1800, ge=60, le=86_400)
    password_reset_url: str = "http://127.0.0.1:8000/reset-password"  # noqa: S105
    login_limit_per_address: int = Field(20, ge=1)
    login_limit_per_account: int = Field(5, ge=1)
    login_limit_window_seconds: int = Field(60, ge=1)
    login_account_ceiling: int = Field(100, ge=1)
    login_account_ceiling_window_seconds: int = Field(3600, ge=1)
    login_priority_per_address: int = Field(3, ge=1)
    register_limit_per_address: int = Field(20, ge=1)
    register_limit_window_seconds: int = Field(3600, ge=1)
    password_change_limit_per_user: int = Field(5, ge=1)
    password_change_limit_window_seconds: int = Field(900, ge=1)
    recovery_limit_per_address: int = Field(5, ge=1)
    recovery_limit_window_seconds: int = Field(3600, ge=1)
    db_pool_size: int = Field(20, ge=1, le=500)
    db_max_overflow: int = Field(0, ge=0, le=500)
    db_pool_timeout_seconds: float = Field(5.0, gt=0, le=300)
    db_pool_recycle_seconds: float = Field(3600.0, ge=0)
    jwt_issuer: str = "portico"
    jwt_audience: str = "portico-api"
    cache_ttl_seconds: int = Field(300, ge=1)
    cache_max_items: int = Field(50_000, ge=100)
    # The stdlib loop by default: under CPU saturation uvloop served some connections far
    # later than others (p99 10-20x the median at 64 connections; asyncio's about 1.3x) for
    # the same throughput. See the README, "Scaling out".
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    redis_max_connections: int = Field(50, ge=2, le=10_000)
    redis_pool_timeout_seconds: float = Field(5.0, gt=0, le=60)
    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    # One record per line: `json` objects or `text`. Unset: `json` in production, else `text`.
    log_format: Literal["json", "text"] = "text"
    # The HTTP server's own limits (entrypoints/server.py), against slow or oversized clients.
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    max_headers: int = Field(100, ge=10, le=10_000)
    request_head_timeout_seconds: float = Field(10, gt=0, le=3600)
    request_body_timeout_seconds: float = Field(20, gt=0, le=3600)
    request_body_min_rate: int = Field(500, ge=1)
    keep_alive_timeout_seconds: int = Field(5, ge=1, le=3600)
    max_connections: int = Field(1000, ge=1)
    graceful_timeout_seconds: int = Field(30, ge=0, le=3600)

    # Jobs (README "Jobs"): `portico serve` runs them itself unless JOBS_IN_PROCESS=false.
    jobs_in_process: bool = True
    job_max_attempts: int = Field(8, ge=1, le=100)
    job_retry_base_seconds: float = Field(10.0, gt=0, le=86_400)
    job_lease_seconds: float = Field(30.0, ge=1, le=3600)
    job_poll_seconds: float = Field(1.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("cors_origins", "trusted_proxies", "metrics_allow"):
                if key in data:
                    data[key] = _split(data[key])
        return data

    @model_validator(mode="before")
    @classmethod
    def _log_format_by_environment(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("log_format"):
            data["log_format"] = "json" if data.get("environment") == "production" else "text"
        return data

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return entries

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key == DEVELOPMENT_SECRET
            or len(self.secret_key.encode()) < MIN_PRODUCTION_SECRET_BYTES
        ):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 bytes in production"
            )
        return self
