"""Settings of the Drive emulator (environment prefix ``FILESERVER_DRIVE_EMULATOR_``).

The limit defaults are the figures the design assumes: 100 GB of downloads per account per day
(the specification's assumption; Google publishes none), Drive's 750 GB/day upload cap and the
15 GiB a free account reports as its storage limit. The per-file cap models Drive's locking of
hot files; its level is an assumption too. Each limit can be overridden per account at runtime.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.security import check_secret

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GB = 10**9


class Limits(BaseModel):
    """One account's limits (0 disables a limit)."""

    download_bytes_per_day: int = Field(default=100 * GB, ge=0)
    upload_bytes_per_day: int = Field(default=750 * GB, ge=0)
    storage_bytes: int = Field(default=15 * 1024**3, ge=0)
    requests_per_minute: int = Field(default=12_000, ge=0)
    file_download_bytes_per_day: int = Field(
        default=50 * GB, ge=0, description="per file: past it the file is locked"
    )


class LimitsUpdate(BaseModel):
    """A partial change of an account's limits; omitted fields keep their value."""

    download_bytes_per_day: int | None = Field(default=None, ge=0)
    upload_bytes_per_day: int | None = Field(default=None, ge=0)
    storage_bytes: int | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=0)
    file_download_bytes_per_day: int | None = Field(default=None, ge=0)


class EmulatorSettings(BaseSettings):
    """Where the emulator listens and stores, and the defaults of its limits."""

    model_config = SettingsConfigDict(
        env_prefix="FILESERVER_DRIVE_EMULATOR_", env_nested_delimiter="__", extra="ignore"
    )

    dev_mode: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    data_dir: Path = PROJECT_ROOT / ".state" / "drive-emulator"
    public_url: str = Field(
        default="",
        description="root URL written into credentials and upload sessions; "
        "empty: the URL each request arrived on",
    )
    admin_token: str = ""

    limits: Limits = Field(default_factory=Limits)
    file_lock_seconds: float = Field(
        default=86_400, ge=0, description="how long a file past its cap stays locked"
    )
    uc_scan_threshold_bytes: int = Field(
        default=100 * 10**6, ge=0, description="uc links above it get the virus-scan page"
    )
    rollover_utc: time = Field(default=time(0, 0), description="UTC time the daily ledger resets")
    access_token_ttl_seconds: int = Field(default=3600, ge=1)
    fault_seed: int | None = Field(default=None, description="seed of fault injection's dice")
    keep_alive_seconds: int = Field(
        default=120,
        ge=1,
        description="how long an idle connection stays open (Google's front ends: minutes)",
    )

    @field_validator("admin_token")
    @classmethod
    def _real_secret(cls, value: str, info: ValidationInfo) -> str:
        return check_secret(
            "FILESERVER_DRIVE_EMULATOR_ADMIN_TOKEN", value, dev_mode=bool(info.data.get("dev_mode"))
        )

    @field_validator("public_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if not value or value.endswith("/") else value + "/"

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: Any) -> Any:
        # Development mode gets a fixed, well-known admin token so the emulator runs with no
        # configuration; outside it a real token is required (see _real_secret).
        if isinstance(data, dict) and str(data.get("dev_mode", "")).lower() in {"1", "true"}:
            data.setdefault("admin_token", "dev-emulator-admin-token")
        return data


@lru_cache
def get_settings() -> EmulatorSettings:
    """The process's emulator settings, read once from the environment."""
    return EmulatorSettings()
