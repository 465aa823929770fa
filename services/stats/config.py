"""Settings of Stats (environment prefix ``FILESERVER_STATS_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.shared.limits import RequestLimitSettings
from services.shared.security import check_secret


class Settings(RequestLimitSettings):
    """Everything Stats reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_STATS_", extra="ignore")

    dev_mode: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:63799/0"
    downloader_url: str = Field(
        default="http://127.0.0.1:8002", description="where to post increments"
    )
    downloader_token: str = Field(default="", description="the Downloader's internal token")
    run_worker: bool = Field(default=True, description="consume the queue in this process")
    max_jobs: int = Field(default=8, ge=1, description="batches processed at once")
    job_timeout_seconds: float = Field(default=20.0, gt=0)
    max_tries: int = Field(
        default=1000, ge=1, description="deliveries of one batch before giving up"
    )
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("downloader_token")
    @classmethod
    def _real_secret(cls, value: str, info: ValidationInfo) -> str:
        return check_secret(
            "FILESERVER_STATS_DOWNLOADER_TOKEN", value, dev_mode=bool(info.data.get("dev_mode"))
        )

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: Any) -> Any:
        # The Downloader's development-mode internal token, so that both run with no setup.
        if isinstance(data, dict) and str(data.get("dev_mode", "")).lower() in {"1", "true"}:
            data.setdefault("downloader_token", "dev-internal-token")
        return data


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
