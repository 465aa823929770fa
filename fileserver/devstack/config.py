"""Devstack settings: where state and caches live and which loopback port each server takes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Ports(BaseSettings):
    """Loopback ports: away from each server's default (a system copy can coexist) and below
    Linux's ephemeral range (32768-60999), where an outgoing connection could hold them."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_DEV_PORT_")

    postgres: int = 25432
    redis: int = 63799
    ferretdb: int = 27018
    prometheus: int = 9099
    etcd: int = 23790
    etcd_peer: int = 23800
    kube_apiserver: int = 6444
    kube_controller_manager: int = 10357
    kube_scheduler: int = 10359
    kwok: int = 10347


class DevstackSettings(BaseSettings):
    """Settings of the devstack, from ``FILESERVER_DEV_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_DEV_")

    state_dir: Path = Field(
        default=PROJECT_ROOT / ".state",
        description="Data folders, logs and pid files of the running servers (git-ignored).",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "fileserver",
        description="Built binaries, keyed by version; outside the work tree so clones share it.",
    )
    versions_file: Path = PROJECT_ROOT / "versions.toml"
    ferretdb_backend: str = Field(default="sqlite", pattern="^(sqlite|postgresql)$")
    kwok_nodes: int = Field(default=3, ge=1, le=100)
    images: Literal["built", "public"] = Field(
        default="built",
        description=(
            "built: every image the kind cluster runs is built here from the registries. "
            "public: kind-config.yaml's kindest/node, the Dockerfile's default Python base and "
            "the chart's default server images, pulled from their registries; for machines "
            "that can pull (the GitHub workflow's e2e job)."
        ),
    )
    ports: Ports = Field(default_factory=Ports)


@lru_cache
def get_settings() -> DevstackSettings:
    """The process-wide devstack settings (tests may construct their own)."""
    return DevstackSettings()
