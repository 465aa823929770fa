"""Running the operator for tests: a namespace set up as the chart sets it, and the operator
as a real ``kopf run`` process with the chart's ServiceAccount token (so RBAC is exercised)."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fileserver.devstack.process import ManagedProcess, ProcessSpec
from fileserver.system.system import LocalSystem
from tests.fixtures.stack import Kubectl
from tests.utils.drive import PROJECT_ROOT, EmulatorAccount, EmulatorAdmin, free_port
from tests.utils.waiting import eventually

RELEASE = "fs"
FULLNAME = f"{RELEASE}-fileserver"
SERVICE_ACCOUNT = f"{FULLNAME}-operator"
DEPLOYMENTS = [f"{FULLNAME}-uploader", f"{FULLNAME}-downloader", f"{FULLNAME}-stats"]
KOPF = Path(sys.executable).parent / "kopf"


def deployment(name: str, namespace: str, replicas: int = 1) -> dict[str, Any]:
    """A stand-in for one service Deployment: its pods land on kwok's simulated nodes."""
    labels = {"app.kubernetes.io/name": "fileserver", "app.kubernetes.io/instance": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "containers": [{"name": "app", "image": "fileserver:test"}],
                },
            },
        },
    }


def rbac_manifests(kubectl: Kubectl, namespace: str, *, peering: bool) -> str:
    """The chart's ServiceAccount, Role and bindings for the operator, rendered by helm."""
    return kubectl.helm(
        "template", RELEASE, str(PROJECT_ROOT / "charts" / "fileserver"),
        f"--namespace={namespace}", "--kube-version=1.34.4",
        "--show-only=templates/rbac.yaml", "--show-only=templates/serviceaccounts.yaml",
        f"--set=operator.peering.enabled={str(peering).lower()}",
    )  # fmt: skip


def service_account_kubeconfig(kubectl: Kubectl, namespace: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (a bound token)."""
    token = kubectl(
        "create", "token", SERVICE_ACCOUNT, f"--namespace={namespace}", "--duration=2h"
    ).strip()
    admin = yaml.safe_load(kubectl.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    if "certificate-authority" in cluster:
        ca = Path(cluster.pop("certificate-authority")).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devstack", "cluster": cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [
            {
                "name": "operator",
                "context": {"cluster": "devstack", "user": "operator", "namespace": namespace},
            }
        ],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class OperatorRun:
    """One ``kopf run`` process of the operator."""

    name: str
    run_dir: Path
    env: dict[str, str]
    args: list[str]
    metrics_port: int = field(default_factory=free_port)

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(self.name, self.run_dir)

    def start(self) -> None:
        argv = [str(KOPF), "run", "-m", "fileserver_operator.main", "--verbose", *self.args]
        env = {**self.env, "FILESERVER_OPERATOR_METRICS_PORT": str(self.metrics_port)}
        self.process.start(ProcessSpec(argv=argv, env=env, cwd=PROJECT_ROOT))

    def kill(self) -> None:
        """SIGKILL: no cleanup, no peering goodbye — as a crashed pod."""
        pid = self.process.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.process.stop()

    def log(self) -> str:
        """Everything the process logged (``--verbose``: kopf's debug lines too)."""
        return self.process.log_file.read_text(errors="replace")


def operator_env(
    system: LocalSystem, namespace: str, kubeconfig: Path, **overrides: str
) -> dict[str, str]:
    """Environment of an operator process for ``system``'s services in ``namespace``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILESERVER_")}
    env |= {
        "KUBECONFIG": str(kubeconfig),
        "FILESERVER_OPERATOR_NAMESPACE": namespace,
        "FILESERVER_OPERATOR_UPLOADER_URL": system.service("uploader").url,
        "FILESERVER_OPERATOR_DOWNLOADER_URL": system.service("downloader").url,
        "FILESERVER_OPERATOR_STATS_URL": system.service("stats").url,
        "FILESERVER_OPERATOR_UPLOADER_ADMIN_TOKEN": system.secrets.uploader_admin_token,
        "FILESERVER_OPERATOR_DOWNLOADER_ADMIN_TOKEN": system.secrets.downloader_admin_token,
        "FILESERVER_OPERATOR_DEPLOYMENTS": ",".join(DEPLOYMENTS),
        "FILESERVER_OPERATOR_ACCOUNT_SYNC_SECONDS": "2",
        "FILESERVER_OPERATOR_CATALOG_SYNC_SECONDS": "1",
        "FILESERVER_OPERATOR_SCALE_INTERVAL_SECONDS": "1",
        "FILESERVER_OPERATOR_SCALE_DOWN_DELAY_SECONDS": "3",
        "FILESERVER_OPERATOR_DRAIN_POLL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env |= {f"FILESERVER_OPERATOR_{k.upper()}": v for k, v in overrides.items()}
    return env


def credentials_secret(name: str, namespace: str, credentials: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"credentials.json": json.dumps(credentials)},
    }


def drive_account(
    name: str, namespace: str, email: str, secret: str, budget: str = "100G", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "fileserver.io/v1alpha1",
        "kind": "DriveAccount",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "email": email,
            "credentialsSecretRef": {"name": secret},
            "dailyDownloadBudget": budget,
            **spec,
        },
    }


@dataclass
class Cluster:
    """One test's namespace, the admin kubectl and the operator processes started in it."""

    namespace: str
    kubectl: Kubectl
    kubeconfig: Path
    system: LocalSystem
    run_dir: Path
    runs: list[OperatorRun]

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        out = self.kubectl(
            "get", kind, name, f"--namespace={self.namespace}", "-o", "json", check=False
        )
        try:
            result: dict[str, Any] = json.loads(out)
        except ValueError:
            return None
        return result

    def items(self, kind: str) -> list[dict[str, Any]]:
        out = self.kubectl("get", kind, f"--namespace={self.namespace}", "-o", "json")
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items

    def operator(self, *, peering: str | None = None, **settings: str) -> OperatorRun:
        """Start an operator process (standalone unless ``peering`` names a KopfPeering)."""
        args = [f"--namespace={self.namespace}"]
        args.append(f"--peering={peering}" if peering else "--standalone")
        run = OperatorRun(
            name=f"operator-{len(self.runs)}",
            run_dir=self.run_dir,
            env=operator_env(self.system, self.namespace, self.kubeconfig, **settings),
            args=args,
        )
        run.start()
        self.runs.append(run)
        return run

    def logs(self) -> str:
        return "\n".join(f"--- {r.name}\n{r.process.log_tail(100)}" for r in self.runs)


def conditions(obj: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """type → (status, reason) of a resource's conditions."""
    status = (obj or {}).get("status") or {}
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


async def add_account(
    cluster: Cluster, emulator: EmulatorAdmin, name: str, budget: str = "100G", **limits: int
) -> EmulatorAccount:
    """An emulator account, its Secret and its DriveAccount."""
    account = await emulator.create_account(**limits)
    cluster.apply(
        credentials_secret(f"{name}-creds", cluster.namespace, account.credentials),
        drive_account(name, cluster.namespace, account.email, f"{name}-creds", budget),
    )
    return account


async def wait_ready(cluster: Cluster, name: str, within: float = 90) -> dict[str, Any]:
    """The DriveAccount once Ready (the operators' logs in the error otherwise)."""

    async def ready() -> None:
        obj = cluster.get("driveaccount", name)
        assert conditions(obj).get("Ready") == ("True", "Serving"), obj

    try:
        await eventually(ready, within=within)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.logs()}") from None
    obj = cluster.get("driveaccount", name)
    assert obj is not None
    return obj
