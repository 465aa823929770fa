"""Settings of the operator (environment prefix ``FILESERVER_OPERATOR_``).

The chart's ConfigMap sets the service URLs, the Deployments it may scale and the peering name;
the admin tokens come from the release Secret. The intervals are short enough for a person to
watch a change land, long enough that a pool of a thousand accounts is a trickle of requests.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.shared.security import check_secret

DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 (the services' development-mode default)
MANAGER = "fileserver-operator"
"""How the operator marks the Uploader accounts it owns (``managed_by``)."""


FINALIZER = "fileserver.io/finalizer"
"""kopf's finalizer on our resources (the delete handlers need one)."""

SERVICES = ("uploader", "downloader", "stats", "uploader-worker")
"""The services whose Deployments the operator scales (the keys of the per-service bounds)."""


class OperatorSettings(BaseSettings):
    """Everything the operator reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_OPERATOR_", extra="ignore")

    dev_mode: bool = False
    namespace: str = Field(default="default", min_length=1, max_length=63)
    """Namespace of the services' Deployments (and of the resources, unless watching all)."""

    uploader_url: str = "http://127.0.0.1:8001"
    downloader_url: str = "http://127.0.0.1:8002"
    stats_url: str | None = Field(default=None, description="for its backlog; unset: not read")
    uploader_admin_token: SecretStr = SecretStr("")
    downloader_admin_token: SecretStr = SecretStr("")
    http_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    listing_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=900,
        description="a page of GET /files or /accounts: on FerretDB each scans the whole catalog",
    )

    manager: str = Field(default=MANAGER, pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    account_sync_seconds: float = Field(
        default=60.0, ge=0.5, description="how often each DriveAccount's usage is refreshed"
    )
    catalog_sync_seconds: float = Field(
        default=10.0, ge=0.5, description="how often the Uploader's files are mirrored"
    )
    catalog_resync_seconds: float = Field(
        default=600.0,
        ge=1,
        description="how often the catalog sync lists every file again instead of the changes "
        "(it also does on start and when the DriveAccount pool changes): the change feed "
        "cannot show a file deleted and purged between two syncs",
    )
    drain_poll_seconds: float = Field(default=5.0, ge=0.1)
    placement_interval_seconds: float = Field(
        default=60.0,
        ge=0.5,
        description="how often demand-driven FileReplicas get their count from the demand",
    )
    placement_floor: int = Field(
        default=2,
        ge=1,
        le=10_000,
        description="replicas a demand-driven file keeps however cold (placement.replicas wins)",
    )
    replica_daily_cap_bytes: int = Field(
        default=50 * 10**9,
        ge=0,
        description="what one replica serves a day at most: the Downloader's setting of the "
        "same name (Drive's per-file limit); 0: only the account budget counts",
    )
    rollover_utc: time = Field(default=time(0, 0), description="UTC time at which days start")
    credentials_namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="where the Secrets DriveAccounts name are read (by name, with get only); "
        "unset: each DriveAccount's own namespace. The chart sets a namespace of its own, so "
        "that the operator can read no other Secret (docs/operator.md, Credentials)",
    )

    deployments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "fileserver-uploader",
            "fileserver-downloader",
            "fileserver-stats",
        ],
        description="uploader, downloader and stats Deployment names, in that order",
    )
    worker_deployment: str = Field(
        default="fileserver-uploader-worker",
        description="the replication workers' Deployment, sized by the Uploader's queue; "
        "empty: not scaled",
    )
    scale_deployments: bool = True
    scale_interval_seconds: float = Field(default=30.0, ge=0.5)
    scale_down_delay_seconds: float = Field(
        default=300.0, ge=0, description="a lower count must hold this long before it applies"
    )
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=20, ge=1, le=1000)
    min_replicas_by_service: dict[str, int] = Field(
        default_factory=dict,
        description='per-service floors, JSON ({"uploader": 2, ...}): the chart passes its '
        "replicas values, so that the operator never goes below the chart's HA floor",
    )
    max_replicas_by_service: dict[str, int] = Field(
        default_factory=dict, description="per-service ceilings, JSON (the chart's maxReplicas)"
    )
    worker_queue_per_pod: float = Field(
        default=32,
        gt=0,
        le=1_000_000,
        description="waiting Uploader jobs one replication worker pod is sized for (like "
        "KEDA's listLength): workers = ceil(queue depth / this), within the bounds",
    )
    peak_factor: float = Field(default=3.0, ge=1, le=100)
    target_utilisation: float = Field(default=0.8, gt=0, le=1)
    mean_download_bytes: int | None = Field(
        default=None, ge=1, description="unset: the catalog's mean file size"
    )
    downloader_rps: float | None = Field(default=None, gt=0, description="per-pod capacity")
    uploader_bytes_per_s: float | None = Field(default=None, gt=0)
    stats_events_per_s: float | None = Field(default=None, gt=0)

    peering: str = Field(default="", description="kopf peering name; empty: standalone")
    priority: int | None = Field(
        default=None, description="peering priority; unset: random, so that replicas differ"
    )
    peering_lifetime_seconds: int = Field(
        default=60, ge=5, description="a silent peer counts as dead after this long"
    )
    metrics_port: int = Field(default=9102, ge=0, le=65535, description="0: no endpoint")
    watch_server_timeout_seconds: int = Field(default=300, ge=10)
    watch_client_timeout_seconds: int = Field(default=330, ge=10)

    @model_validator(mode="before")
    @classmethod
    def _dev_defaults(cls, data: object) -> object:
        if isinstance(data, dict) and str(data.get("dev_mode", "")).lower() in {"1", "true"}:
            data.setdefault("uploader_admin_token", DEV_ADMIN_TOKEN)
            data.setdefault("downloader_admin_token", DEV_ADMIN_TOKEN)
        return data

    @field_validator("credentials_namespace", mode="before")
    @classmethod
    def _unset_if_empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("deployments", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("deployments")
    @classmethod
    def _three(cls, value: list[str]) -> list[str]:
        if len(value) != 3:
            raise ValueError("name the uploader, downloader and stats Deployments, in that order")
        return value

    @field_validator("uploader_admin_token", "downloader_admin_token")
    @classmethod
    def _real_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        check_secret(
            f"FILESERVER_OPERATOR_{(info.field_name or '').upper()}",
            value.get_secret_value(),
            dev_mode=bool(info.data.get("dev_mode")),
        )
        return value

    @field_validator("min_replicas_by_service", "max_replicas_by_service")
    @classmethod
    def _known_services(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(SERVICES))
        if unknown:
            raise ValueError(f"unknown services {unknown}: name some of {list(SERVICES)}")
        if any(not 0 <= n <= 1000 for n in value.values()):
            raise ValueError("replica bounds must lie within 0..1000")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> OperatorSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas cannot exceed max_replicas")
        for service in SERVICES:
            low, high = self.bounds(service)
            if high < 1:
                raise ValueError(f"max_replicas of {service} must be at least 1")
            if low > high:
                raise ValueError(f"the floor of {service} ({low}) exceeds its ceiling ({high})")
        return self

    def bounds(self, service: str) -> tuple[int, int]:
        """(floor, ceiling) of one service's replicas: its own, else the global ones."""
        return (
            self.min_replicas_by_service.get(service, self.min_replicas),
            self.max_replicas_by_service.get(service, self.max_replicas),
        )

    @property
    def scaled(self) -> dict[str, str]:
        """Deployment name → the service it runs (the worker's only when it is named)."""
        names = dict(zip(self.deployments, ("uploader", "downloader", "stats"), strict=True))
        if self.worker_deployment:
            names[self.worker_deployment] = "uploader-worker"
        return names


@lru_cache
def get_settings() -> OperatorSettings:
    return OperatorSettings()
