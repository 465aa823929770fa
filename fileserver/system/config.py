"""Ports and options of the local system (``FILESERVER_SYSTEM_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SystemSettings(BaseSettings):
    """Where each service of the local system listens, and which cluster `--cluster` uses."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_SYSTEM_")

    uploader_port: int = 8001
    downloader_port: int = 8002
    stats_port: int = 8003
    uploader_worker_metrics_port: int = 8004
    emulator_port: int = 8090
    demo_accounts: int = Field(default=3, ge=0, le=100)
    demo_budget_bytes: int = Field(
        default=100 * 10**9, ge=1, description="daily download budget of each demo account"
    )
    namespace: str = Field(
        default="fileserver",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="`up --cluster`: the release's namespace on the kind cluster",
    )
