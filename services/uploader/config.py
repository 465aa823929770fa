"""Settings of the Uploader (environment prefix ``FILESERVER_UPLOADER_``).

One class for the API and its worker, so that both processes agree on the database, the queue
and the keys. Secrets (admin token, credentials key, the Downloader's internal token) must be
real values unless ``dev_mode`` is on: a forgotten variable must stop the service, not run it
with a key everybody knows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.shared.limits import RequestLimitSettings
from services.shared.security import check_secret

# Fixed, well-known values for development mode only; outside it they are refused.
DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105
DEV_INTERNAL_TOKEN = "dev-internal-token"  # noqa: S105 (the Downloader's dev default)
DEV_CREDENTIALS_KEY = "ZGV2LW1vZGUtY3JlZGVudGlhbHMta2V5LTMyYnl0ZXM="  # base64 of 32 known bytes


class Settings(RequestLimitSettings):
    """Everything the Uploader API and worker read from their environment."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_UPLOADER_", extra="ignore")

    dev_mode: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)

    mongo_url: str = "mongodb://127.0.0.1:27018/"
    mongo_db: str = Field(default="fileserver_uploader", min_length=1, max_length=63)
    redis_url: str = "redis://127.0.0.1:63799/0"
    queue_name: str = Field(default="uploader", min_length=1)

    admin_token: SecretStr = SecretStr("")
    credentials_key: SecretStr = Field(
        default=SecretStr(""), description="Fernet key encrypting credentials"
    )

    max_upload_bytes: int = Field(default=20 * 1024**3, ge=1, description="413 beyond this")
    chunk_bytes: int = Field(
        default=1024 * 1024, ge=256 * 1024, le=8 * 1024 * 1024, description="GridFS chunk size"
    )
    upload_session_ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    batch_max_parts: int = Field(default=100, ge=1)

    downloader_url: str = "http://127.0.0.1:8002"
    downloader_internal_token: SecretStr = SecretStr("")
    relay_batch_size: int = Field(default=200, ge=1, le=1000)
    relay_timeout_seconds: float = Field(default=10.0, gt=0)

    worker_max_jobs: int = Field(
        default=8, ge=1, description="slots for urgent jobs: new files' replicas, reconciles"
    )
    worker_background_jobs: int = Field(
        default=4,
        ge=1,
        description="slots for background jobs: backfill, replica removal, draining",
    )
    job_timeout_seconds: int = Field(
        default=3600, ge=5, description="also how long a killed worker's job waits to rerun"
    )
    replication_max_attempts: int = Field(default=8, ge=1)
    storage_recount_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often a worker recounts the bytes each account holds, for placement "
        "within storage limits (in between it adds the replicas it places itself)",
    )
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=60.0, gt=0)
    sweep_interval_seconds: int = Field(default=10, ge=1, le=60)
    worker_metrics_port: int = Field(default=0, ge=0, le=65535, description="0: no endpoint")

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and str(data.get("dev_mode", "")).lower() in {"1", "true"}:
            data.setdefault("admin_token", DEV_ADMIN_TOKEN)
            data.setdefault("downloader_internal_token", DEV_INTERNAL_TOKEN)
            data.setdefault("credentials_key", DEV_CREDENTIALS_KEY)
        return data

    @field_validator("admin_token", "downloader_internal_token")
    @classmethod
    def _real_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        check_secret(
            f"FILESERVER_UPLOADER_{(info.field_name or '').upper()}",
            value.get_secret_value(),
            dev_mode=bool(info.data.get("dev_mode")),
        )
        return value

    @field_validator("credentials_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = value.get_secret_value()
        try:
            Fernet(key.encode())
        except ValueError:
            raise ValueError(
                "FILESERVER_UPLOADER_CREDENTIALS_KEY must be a Fernet key "
                f"(e.g. {Fernet.generate_key().decode()!r})"
            ) from None
        if key == DEV_CREDENTIALS_KEY and not info.data.get("dev_mode"):
            raise ValueError("the development credentials key is refused outside dev_mode")
        return value

    @field_validator("mongo_url")
    @classmethod
    def _mongo_dsn(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("mongo_url must be a mongodb:// DSN")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_dsn(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be a redis:// DSN")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
