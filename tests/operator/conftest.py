"""Operator tests: the CRDs on the devstack's API server, a private local system with the
services as real processes, and per test a namespace prepared as the chart prepares it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fileserver_operator.builders.accounts import MANAGER_HEADER
from fileserver_operator.config import MANAGER

from fileserver.devstack.servers import KubeAPIServer
from fileserver.system.kube import (
    DEPLOYMENTS,
    apply_crds,
    deployment,
    rbac_manifests,
    service_account_kubeconfig,
)
from fileserver.system.system import LocalSystem
from tests.fixtures.stack import Kubectl
from tests.utils.drive import EmulatorAdmin
from tests.utils.local_system import PrivateSystem
from tests.utils.operator import Cluster
from tests.utils.waiting import eventually


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> None:
    apply_crds(kubectl)


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
    # The chart's RBAC made the credentials namespace beside the test's: it goes with it.
    cluster.kubectl(
        "delete", "namespace", cluster.credentials_namespace, "--wait=false", check=False
    )


@pytest.fixture
def cluster(
    kube: KubeAPIServer,
    crds: None,
    kubectl: Kubectl,
    namespace: str,
    services: LocalSystem,
    uploader: httpx.AsyncClient,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """A namespace for one test; the session's Uploader is emptied first (via ``uploader``)."""
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
    uploader: httpx.AsyncClient,
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
    """The session's Uploader, emptied of the files and accounts earlier tests left."""
    token = services.secrets.uploader_admin_token
    async with httpx.AsyncClient(
        base_url=services.service("uploader").url,
        headers={"Authorization": f"Bearer {token}", MANAGER_HEADER: MANAGER},
        timeout=60,
    ) as client:
        await _empty(client)
        client.headers.pop(MANAGER_HEADER)
        yield client


async def _empty(client: httpx.AsyncClient) -> None:
    for kind in ("files", "accounts"):
        for item in (await client.get(f"/{kind}", params={"limit": 1000})).json()["items"]:
            await client.delete(f"/{kind}/{item['id']}")

    async def empty() -> None:
        for kind in ("files", "accounts"):
            assert (await client.get(f"/{kind}")).json()["total"] == 0

    await eventually(empty, within=120)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique across tests (the services are shared by the whole session)."""
    import uuid

    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
