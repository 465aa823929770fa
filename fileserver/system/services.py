"""How to run each service of the local system: command, environment and health endpoint."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from fileserver.devstack.servers import LOOPBACK, FerretDB, Redis
from fileserver.devstack.stack import Stack
from fileserver.system.config import SystemSettings
from fileserver.system.kube import DEPLOYMENTS, credentials_namespace
from fileserver.system.secrets import SystemSecrets


@dataclass(frozen=True)
class ServiceDef:
    """One service process."""

    name: str
    module: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/readyz"
    docs_path: str | None = None
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]


def service_defs(stack: Stack, settings: SystemSettings, secret: SystemSecrets) -> list[ServiceDef]:
    """The services in start order (each one's dependencies first)."""
    state = stack.settings.state_dir / "services"
    redis = stack.server(Redis).endpoint()
    emulator = f"http://{LOOPBACK}:{settings.emulator_port}/"
    downloader = f"http://{LOOPBACK}:{settings.downloader_port}"
    drive = {"FILESERVER_DRIVE_ROOT_URL": emulator}  # the same client code talks to Google
    return [
        ServiceDef(
            name="drive-emulator",
            module="services.drive_emulator",
            port=settings.emulator_port,
            ready_path="/healthz",
            env={
                "FILESERVER_DRIVE_EMULATOR_HOST": LOOPBACK,
                "FILESERVER_DRIVE_EMULATOR_PORT": str(settings.emulator_port),
                "FILESERVER_DRIVE_EMULATOR_DATA_DIR": str(state / "drive-emulator" / "data"),
                "FILESERVER_DRIVE_EMULATOR_PUBLIC_URL": emulator,
                "FILESERVER_DRIVE_EMULATOR_ADMIN_TOKEN": secret.emulator_admin_token,
            },
        ),
        ServiceDef(
            name="downloader",
            module="services.downloader",
            port=settings.downloader_port,
            docs_path="/docs",
            env={
                "FILESERVER_DOWNLOADER_HOST": LOOPBACK,
                "FILESERVER_DOWNLOADER_PORT": str(settings.downloader_port),
                "FILESERVER_DOWNLOADER_STATE_DIR": str(state / "downloader" / "data"),
                "FILESERVER_DOWNLOADER_REDIS_URL": redis,
                "FILESERVER_DOWNLOADER_ADMIN_TOKEN": secret.downloader_admin_token,
                "FILESERVER_DOWNLOADER_INTERNAL_TOKEN": secret.downloader_internal_token,
                **drive,
            },
        ),
        ServiceDef(
            name="stats",
            module="services.stats",
            port=settings.stats_port,
            env={
                "FILESERVER_STATS_HOST": LOOPBACK,
                "FILESERVER_STATS_PORT": str(settings.stats_port),
                "FILESERVER_STATS_REDIS_URL": redis,
                "FILESERVER_STATS_DOWNLOADER_URL": downloader,
                "FILESERVER_STATS_DOWNLOADER_TOKEN": secret.downloader_internal_token,
            },
        ),
        *_uploader(stack, settings, secret, redis, downloader, drive),
    ]


def _uploader(
    stack: Stack,
    settings: SystemSettings,
    secret: SystemSecrets,
    redis: str,
    downloader: str,
    drive: dict[str, str],
) -> list[ServiceDef]:
    env = {
        "FILESERVER_UPLOADER_HOST": LOOPBACK,
        "FILESERVER_UPLOADER_PORT": str(settings.uploader_port),
        "FILESERVER_UPLOADER_MONGO_URL": stack.server(FerretDB).endpoint(),
        "FILESERVER_UPLOADER_REDIS_URL": redis,
        "FILESERVER_UPLOADER_ADMIN_TOKEN": secret.uploader_admin_token,
        "FILESERVER_UPLOADER_CREDENTIALS_KEY": secret.credentials_key,
        "FILESERVER_UPLOADER_DOWNLOADER_URL": downloader,
        "FILESERVER_UPLOADER_DOWNLOADER_INTERNAL_TOKEN": secret.downloader_internal_token,
        "FILESERVER_UPLOADER_WORKER_METRICS_PORT": str(settings.uploader_worker_metrics_port),
        **drive,
    }
    return [
        ServiceDef("uploader", "services.uploader", settings.uploader_port, env, docs_path="/docs"),
        ServiceDef(
            "uploader-worker",
            "services.uploader.worker",
            settings.uploader_worker_metrics_port,
            env,
            ready_path="/metrics",
        ),
    ]


def operator_env(
    settings: SystemSettings, secret: SystemSecrets, namespace: str, kubeconfig: Path
) -> dict[str, str]:
    """An operator process's settings for the local services (the operator's tests and
    benchmarks run it on the devstack's kwok cluster); short intervals for quick feedback."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "FILESERVER_OPERATOR_NAMESPACE": namespace,
        "FILESERVER_OPERATOR_CREDENTIALS_NAMESPACE": credentials_namespace(namespace),
        "FILESERVER_OPERATOR_UPLOADER_URL": f"http://{LOOPBACK}:{settings.uploader_port}",
        "FILESERVER_OPERATOR_DOWNLOADER_URL": f"http://{LOOPBACK}:{settings.downloader_port}",
        "FILESERVER_OPERATOR_STATS_URL": f"http://{LOOPBACK}:{settings.stats_port}",
        "FILESERVER_OPERATOR_UPLOADER_ADMIN_TOKEN": secret.uploader_admin_token,
        "FILESERVER_OPERATOR_DOWNLOADER_ADMIN_TOKEN": secret.downloader_admin_token,
        "FILESERVER_OPERATOR_DEPLOYMENTS": ",".join(DEPLOYMENTS),
        "FILESERVER_OPERATOR_ACCOUNT_SYNC_SECONDS": "2",
        "FILESERVER_OPERATOR_CATALOG_SYNC_SECONDS": "1",
        "FILESERVER_OPERATOR_SCALE_INTERVAL_SECONDS": "1",
        "FILESERVER_OPERATOR_SCALE_DOWN_DELAY_SECONDS": "3",
        "FILESERVER_OPERATOR_DRAIN_POLL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
