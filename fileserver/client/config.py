"""Where the Uploader and Downloader are and which admin tokens to send.

Each setting comes from the first of: a command-line flag, the environment
(``FILESERVER_URL_UPLOADER``, ``FILESERVER_URL_DOWNLOADER``, ``FILESERVER_TOKEN_UPLOADER``,
``FILESERVER_TOKEN_DOWNLOADER``), the config file (``--config``, ``FILESERVER_CONFIG`` or
``~/.config/fileserver/config.toml``), and finally the local system of ``fileserver up`` (its
ports and ``.state/system/secrets.json``), so that after ``fileserver up`` no flag is needed.

The config file::

    [uploader]
    url = "https://files.example.com/upload-api"
    token = "…"

    [downloader]
    url = "https://files.example.com"
    token = "…"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fileserver.client.errors import ClientError, ExitCode
from fileserver.devstack.config import DevstackSettings
from fileserver.devstack.servers import LOOPBACK
from fileserver.system.cluster import ClusterSystem
from fileserver.system.config import SystemSettings
from fileserver.system.secrets import SystemSecrets

SERVICES = ("uploader", "downloader")


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "fileserver" / "config.toml"


@dataclass(frozen=True)
class ClientConfig:
    uploader_url: str
    downloader_url: str
    uploader_token: str | None = None
    downloader_token: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        uploader_url: str | None = None,
        downloader_url: str | None = None,
        uploader_token: str | None = None,
        downloader_token: str | None = None,
        config_file: Path | None = None,
    ) -> ClientConfig:
        """Flags (the arguments) over environment over config file over the local system."""
        flags = {
            "uploader_url": uploader_url,
            "downloader_url": downloader_url,
            "uploader_token": uploader_token,
            "downloader_token": downloader_token,
        }
        layers = [flags, _from_env(), _from_file(config_file), _from_local_system()]
        merged = {
            key: next((layer[key] for layer in layers if layer.get(key)), None) for key in flags
        }
        return cls(
            uploader_url=str(merged["uploader_url"]).rstrip("/"),
            downloader_url=str(merged["downloader_url"]).rstrip("/"),
            uploader_token=merged["uploader_token"],
            downloader_token=merged["downloader_token"],
        )


def _from_env() -> dict[str, str | None]:
    return {
        f"{service}_{kind}": os.environ.get(f"FILESERVER_{kind.upper()}_{service.upper()}")
        for service in SERVICES
        for kind in ("url", "token")
    }


def _from_file(path: Path | None) -> dict[str, str | None]:
    explicit = path or (Path(p) if (p := os.environ.get("FILESERVER_CONFIG")) else None)
    chosen = explicit or default_config_file()
    if not chosen.is_file():
        if explicit is not None:
            raise ClientError(f"config file {chosen} does not exist", ExitCode.USAGE)
        return {}
    try:
        data: dict[str, Any] = tomllib.loads(chosen.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ClientError(f"config file {chosen}: {exc}", ExitCode.USAGE) from exc
    return {
        f"{service}_{kind}": data.get(service, {}).get(kind)
        for service in SERVICES
        for kind in ("url", "token")
    }


def _from_local_system() -> dict[str, str | None]:
    """The system's endpoints (same settings as ``fileserver up``) and, once it has run, its
    admin tokens: the cluster's if ``up --cluster`` recorded one."""
    state_dir = DevstackSettings().state_dir
    if ClusterSystem.recorded(state_dir):
        cluster = ClusterSystem()
        return {
            "uploader_url": cluster.url("uploader"),
            "downloader_url": cluster.url("downloader"),
            "uploader_token": cluster.secrets.uploader_admin_token,
            "downloader_token": cluster.secrets.downloader_admin_token,
        }
    ports = SystemSettings()
    secrets_file = state_dir / "system" / "secrets.json"
    secret = SystemSecrets.load_or_create(secrets_file) if secrets_file.is_file() else None
    return {
        "uploader_url": f"http://{LOOPBACK}:{ports.uploader_port}",
        "downloader_url": f"http://{LOOPBACK}:{ports.downloader_port}",
        "uploader_token": secret.uploader_admin_token if secret else None,
        "downloader_token": secret.downloader_admin_token if secret else None,
    }
