"""kubectl and helm on a cluster, and the manifests the system and its tests apply there.

``up --cluster`` installs the chart on kind (:mod:`fileserver.system.cluster`). The operator's
tests and benchmarks run it on the devstack's kwok cluster instead, prepared as the chart
prepares a namespace: the chart's RBAC and ServiceAccount token (so its permissions are the
chart's, not an admin's) and stand-in Deployments, whose pods kwok simulates, for it to scale.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any, Protocol

import yaml

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.stack import Stack

RELEASE = "fs"
FULLNAME = f"{RELEASE}-fileserver"
SERVICE_ACCOUNT = f"{FULLNAME}-operator"
DEPLOYMENTS = [f"{FULLNAME}-uploader", f"{FULLNAME}-downloader", f"{FULLNAME}-stats"]
KUBE_VERSION = "1.34.4"
CHART = PROJECT_ROOT / "charts" / "fileserver"
CRDS = [*sorted((PROJECT_ROOT / "crds").glob("*.yaml")), CHART / "crds" / "kopf-peering.yaml"]


class KubeCLI(Protocol):
    """kubectl and helm with one kubeconfig (the tests' ``Kubectl`` is one too)."""

    kubeconfig: Path

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str: ...

    def helm(self, *args: str, check: bool = True) -> str: ...


class KubeTools:
    """The devstack's kubectl and helm, pointed at one cluster."""

    def __init__(self, stack: Stack, kubeconfig: Path) -> None:
        self.kubectl = stack.ctx.binaries.kube_tool("kubectl")
        self.helm_binary = stack.ctx.binaries.helm
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self._run([str(self.kubectl), *args], stdin, check)

    def helm(self, *args: str, check: bool = True) -> str:
        return self._run([str(self.helm_binary), *args], None, check)

    def apply(self, *objects: dict[str, Any]) -> None:
        self("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))

    def _run(self, argv: list[str], stdin: str | None, check: bool) -> str:
        proc = self._exec(argv, stdin)
        if check and proc.returncode != 0:
            raise DevstackError(f"{Path(argv[0]).name} {argv[1]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def _exec(self, argv: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        """``argv`` run with this kubeconfig, its output captured, its exit status not judged.

        A hung call is cut off, but never before the command's own ``--timeout`` runs out.
        """
        limit = command_deadline(argv)
        try:
            return subprocess.run(
                [argv[0], f"--kubeconfig={self.kubeconfig}", *argv[1:]],
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                timeout=limit,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevstackError(
                f"{Path(argv[0]).name} {argv[1]} did not finish within {limit:.0f}s",
                "is the cluster's API server up? (`fileserver status`)",
            ) from exc


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def command_deadline(argv: list[str], floor: float = 300.0, margin: float = 60.0) -> float:
    """Seconds to let a kubectl/helm call run: ``floor``, or its ``--timeout`` plus ``margin``.

    ``--timeout`` takes a Go duration (``10m``, ``180s``, ``1m30s``), as both tools spell it.
    """
    for arg in argv:
        if arg.startswith("--timeout="):
            value = arg.removeprefix("--timeout=")
            parts = _DURATION.findall(value)
            if parts and "".join(n + u for n, u in parts) == value:
                return max(floor, sum(float(n) * _UNIT_SECONDS[u] for n, u in parts) + margin)
    return floor


def apply_crds(kube: KubeCLI) -> None:
    """The generated CRDs and kopf's peering CRD, Established before anything uses them."""
    kube("apply", "--server-side", "--force-conflicts", *(f"--filename={p}" for p in CRDS))
    kube("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


def credentials_namespace(namespace: str) -> str:
    """Where the chart puts the Secrets DriveAccounts of ``namespace`` name (its default).

    The chart's RBAC lets the operator ``get`` Secrets there and nowhere else; the Namespace
    itself is part of what ``rbac_manifests`` renders.
    """
    return f"{namespace}-credentials"


def namespace_manifest(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


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


def rbac_manifests(kube: KubeCLI, namespace: str, *, peering: bool) -> str:
    """The chart's ServiceAccount, Roles and bindings for the operator, rendered by helm (the
    credentials namespace and the operator's one grant there, get Secrets, included)."""
    return kube.helm(
        "template", RELEASE, str(CHART), f"--namespace={namespace}",
        f"--kube-version={KUBE_VERSION}",
        "--show-only=templates/rbac.yaml", "--show-only=templates/serviceaccounts.yaml",
        f"--set=operator.peering.enabled={str(peering).lower()}",
    )  # fmt: skip


def service_account_kubeconfig(
    kube: KubeCLI, namespace: str, path: Path, duration: str = "2h"
) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (a bound token)."""
    token = kube(
        "create", "token", SERVICE_ACCOUNT, f"--namespace={namespace}", f"--duration={duration}"
    ).strip()
    admin = yaml.safe_load(kube.kubeconfig.read_text())
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


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


def conditions(obj: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """type → (status, reason) of a resource's conditions."""
    status = (obj or {}).get("status") or {}
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def items(kube: KubeCLI, kind: str, namespace: str) -> list[dict[str, Any]]:
    """Every ``kind`` resource of ``namespace`` (none if the CRD is not installed)."""
    out = kube("get", kind, f"--namespace={namespace}", "-o", "json", check=False)
    try:
        found: list[dict[str, Any]] = json.loads(out)["items"]
    except (ValueError, KeyError):
        return []
    return found
