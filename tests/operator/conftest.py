"""Operator tests: the CRDs on the devstack's API server, a private local system with the
services as real processes, and per test a namespace prepared as the chart prepares it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fileserver.devstack.servers import KubeAPIServer
from fileserver.system.system import LocalSystem
from tests.fixtures.stack import Kubectl
from tests.utils.drive import PROJECT_ROOT, EmulatorAdmin
from tests.utils.local_system import PrivateSystem
from tests.utils.operator import (
    DEPLOYMENTS,
    OperatorRun,
    deployment,
    operator_env,
    rbac_manifests,
    service_account_kubeconfig,
)

CRDS = [
    *sorted((PROJECT_ROOT / "crds").glob("*.yaml")),
    PROJECT_ROOT / "charts" / "fileserver" / "crds" / "kopf-peering.yaml",
]


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> None:
    for path in CRDS:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """Uploader (+ worker), Downloader, Stats and the Drive emulator on a private system."""
    private = PrivateSystem.allocate(tmp_path_factory.mktemp("operator-system") / "state")
    local = private.local_system()
    try:
        local.up()
        yield local
    finally:
        local.down()


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
        return "\n".join(f"--- {r.name}\n{r.log()}" for r in self.runs)


def _make_cluster(
    kubectl: Kubectl, namespace: str, services: LocalSystem, tmp_path: Path, *, peering: bool
) -> Cluster:
    kubectl("apply", "-f", "-", stdin=rbac_manifests(kubectl, namespace, peering=peering))
    cluster = Cluster(
        namespace=namespace,
        kubectl=kubectl,
        kubeconfig=service_account_kubeconfig(kubectl, namespace, tmp_path / "operator.kubeconfig"),
        system=services,
        run_dir=tmp_path / "operator",
        runs=[],
    )
    cluster.apply(*(deployment(name, namespace) for name in DEPLOYMENTS))
    return cluster


def _teardown(cluster: Cluster) -> None:
    for run in cluster.runs:
        run.stop()
    print(cluster.logs())  # shown with a failing test's report
    # With no operator left, our finalizers would hold the namespace in Terminating forever.
    for kind in ("driveaccounts", "filereplicas"):
        for item in cluster.items(kind):
            cluster.kubectl(
                "patch", kind, item["metadata"]["name"], f"--namespace={cluster.namespace}",
                "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False,
            )  # fmt: skip


@pytest.fixture
def cluster(
    kube: KubeAPIServer,
    crds: None,
    kubectl: Kubectl,
    namespace: str,
    services: LocalSystem,
    tmp_path: Path,
) -> Iterator[Cluster]:
    made = _make_cluster(kubectl, namespace, services, tmp_path, peering=False)
    yield made
    _teardown(made)


@pytest.fixture
def peered_cluster(
    kube: KubeAPIServer,
    crds: None,
    kubectl: Kubectl,
    namespace: str,
    services: LocalSystem,
    tmp_path: Path,
) -> Iterator[Cluster]:
    made = _make_cluster(kubectl, namespace, services, tmp_path, peering=True)
    yield made
    _teardown(made)


@pytest.fixture
async def emulator(services: LocalSystem) -> AsyncIterator[EmulatorAdmin]:
    admin = EmulatorAdmin(
        services.service("drive-emulator").url, services.secrets.emulator_admin_token
    )
    yield admin
    await admin.aclose()


@pytest.fixture
async def uploader(services: LocalSystem) -> AsyncIterator[httpx.AsyncClient]:
    token = services.secrets.uploader_admin_token
    async with httpx.AsyncClient(
        base_url=services.service("uploader").url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique across tests (the services are shared by the whole session)."""
    import uuid

    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
