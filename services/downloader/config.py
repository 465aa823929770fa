"""Settings of the Downloader (environment prefix ``FILESERVER_DOWNLOADER_``).

The database defaults to an embedded SQLite file under the state folder so that the service runs
with nothing installed; production points ``database_url`` at PostgreSQL. Tokens must be real
secrets unless ``dev_mode`` is on.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.shared.limits import RequestLimitSettings
from services.shared.security import check_secret

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(RequestLimitSettings):
    """Everything the Downloader reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_DOWNLOADER_", extra="ignore")

    dev_mode: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes")
    keep_alive_seconds: float = Field(
        default=75.0, gt=0, description="idle keep-alive; above any load balancer's idle timeout"
    )
    state_dir: Path = PROJECT_ROOT / ".state" / "downloader"
    database_url: str = Field(
        default="", description="postgresql:// or sqlite:/// DSN; empty: SQLite in state_dir"
    )
    migrate_on_startup: bool = True
    database_wait_seconds: float = Field(
        default=120.0,
        ge=0,
        description="how long startup waits for an unreachable database (it may be starting "
        "beside the Downloader, or restarting) before giving up",
    )
    redis_url: str = "redis://127.0.0.1:63799/0"

    admin_token: str = ""
    internal_token: str = ""

    rollover_utc: time = Field(default=time(0, 0), description="UTC time at which days start")

    lease_block_bytes: int = Field(default=1 << 30, ge=1, description="largest budget lease")
    lease_share: int = Field(
        default=4, ge=1, description="a lease takes at most 1/share of the day's unleased rest"
    )
    lease_ttl_seconds: float = Field(default=30.0, gt=0)
    lease_idle_seconds: float = Field(
        default=5.0, gt=0, description="return a lease unused for this long to the pool"
    )
    lease_grace_seconds: float = Field(
        default=10.0, ge=0, description="how long past expiry before other processes reclaim"
    )
    lease_reclaim_idle_seconds: float = Field(
        default=1.0,
        ge=0,
        description="a refused process closes other processes' leases unused for this long",
    )
    replica_daily_cap_bytes: int = Field(
        default=50 * 10**9,
        ge=0,
        description="bytes one replica may be handed out for per day, below Drive's unpublished "
        "per-file limit past which it locks the file for a day (the emulator's default: 50 GB); "
        "0: no cap",
    )
    maintenance_interval_seconds: float = Field(default=1.0, gt=0)
    exhausted_recheck_seconds: float = Field(
        default=1.0, ge=0, description="how long an account seen without budget is not re-asked"
    )

    record_batch_max: int = Field(default=512, ge=1, description="issued URLs per group commit")
    relay_after_seconds: float = Field(
        default=30.0, gt=0, description="re-queue a stats batch not applied after this long"
    )
    relay_interval_seconds: float = Field(default=5.0, gt=0)
    stats_window_seconds: float = Field(
        default=0.25,
        ge=0,
        description="group commits within this long form one stats batch (0: one per commit)",
    )
    stats_batch_max: int = Field(default=4096, ge=1, description="issued URLs per stats batch")

    @field_validator("admin_token", "internal_token")
    @classmethod
    def _real_secret(cls, value: str, info: ValidationInfo) -> str:
        return check_secret(
            f"FILESERVER_DOWNLOADER_{(info.field_name or '').upper()}",
            value,
            dev_mode=bool(info.data.get("dev_mode")),
        )

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: Any) -> Any:
        # In development mode, missing tokens get fixed, well-known values so that a developer
        # can call the API without configuring anything; outside it they are refused above.
        if isinstance(data, dict) and str(data.get("dev_mode", "")).lower() in {"1", "true"}:
            data.setdefault("admin_token", "dev-admin-token")
            data.setdefault("internal_token", "dev-internal-token")
        return data

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("postgresql", "postgres://", "sqlite")):
            raise ValueError("database_url must be a postgresql:// or sqlite:/// DSN")
        return value

    @model_validator(mode="after")
    def _window_before_relay(self) -> Settings:
        # A stats batch accepts commits for half of relay_after_seconds (so the relay never
        # reads one that can still grow); its window must close well before that.
        if self.stats_window_seconds * 4 > self.relay_after_seconds:
            raise ValueError(
                "stats_window_seconds must be at most a quarter of relay_after_seconds "
                f"({self.stats_window_seconds} > {self.relay_after_seconds} / 4)"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the async driver SQLAlchemy needs."""
        url = self.database_url or f"sqlite:///{self.state_dir / 'downloader.db'}"
        for prefix, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(prefix):
                return driver + url[len(prefix) :]
        return url


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
