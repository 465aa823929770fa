"""``fileserver up --cluster``, ``status``, an upload and ``down`` as a user runs them, on a
private system (own state folder, free ports) whose operator works in a namespace of its own.

The cluster is the devstack's (``FILESERVER_SYSTEM_KUBECONFIG``): a private control plane would
be a second etcd, API server, controllers and kwok on a shared 2-core machine, for nothing the
shared one does not show. ``up`` starting and ``down`` stopping the cluster servers is the same
code as for the data servers, which ``test_local_system`` covers.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fileserver.client.api import FileserverClient
from fileserver.client.config import ClientConfig
from fileserver.devstack.servers import port_in_use
from fileserver.system.kube import conditions, credentials_namespace, items
from fileserver.system.system import LocalSystem
from tests.fixtures.stack import Kubectl
from tests.system.processes import alive
from tests.utils.drive import free_port
from tests.utils.local_system import DATA_SERVERS, PrivateSystem
from tests.utils.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

ACCOUNTS = 2


@dataclass(frozen=True)
class ClusterSystem:
    """A private system pointed at the devstack's cluster and a fresh namespace."""

    private: PrivateSystem
    kubeconfig: Path
    namespace: str
    operator_port: int

    @property
    def env(self) -> dict[str, str]:
        return self.private.env | {
            "FILESERVER_SYSTEM_KUBECONFIG": str(self.kubeconfig),
            "FILESERVER_SYSTEM_NAMESPACE": self.namespace,
            "FILESERVER_SYSTEM_OPERATOR_METRICS_PORT": str(self.operator_port),
        }

    def fileserver(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.private.fileserver(*args, timeout=timeout, env=self.env)

    def local_system(self) -> LocalSystem:
        base = self.private.local_system()
        settings = base.settings.model_copy(
            update={
                "kubeconfig": self.kubeconfig,
                "namespace": self.namespace,
                "operator_metrics_port": self.operator_port,
            }
        )
        return LocalSystem(base.stack, settings)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, kubectl: Kubectl) -> Iterator[ClusterSystem]:
    made = ClusterSystem(
        private=PrivateSystem.allocate(tmp_path_factory.mktemp("cluster-system") / "state"),
        kubeconfig=kubectl.kubeconfig,
        namespace=f"system-{uuid.uuid4().hex[:8]}",
        operator_port=free_port(),
    )
    yield made
    made.fileserver("down")  # in case a test failed before test_down ran
    # With no operator left, its finalizers would hold the namespace in Terminating forever.
    for kind in ("driveaccounts", "filereplicas"):
        for item in items(kubectl, kind, made.namespace):
            kubectl(
                "patch", kind, item["metadata"]["name"], f"--namespace={made.namespace}",
                "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False,
            )  # fmt: skip
    for namespace in (made.namespace, credentials_namespace(made.namespace)):
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def up(system: ClusterSystem) -> subprocess.CompletedProcess[str]:
    result = system.fileserver("up", "--cluster", "--detach", "--accounts", str(ACCOUNTS))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _drive_accounts(kubectl: Kubectl, system: ClusterSystem) -> dict[str, dict[str, Any]]:
    found = items(kubectl, "driveaccounts", system.namespace)
    return {d["metadata"]["name"]: d for d in found}


def test_up_leaves_the_demo_drive_accounts_ready(
    system: ClusterSystem, up: subprocess.CompletedProcess[str], kubectl: Kubectl
) -> None:
    accounts = _drive_accounts(kubectl, system)
    assert sorted(accounts) == [f"demo-{i}" for i in range(ACCOUNTS)]
    assert all(conditions(a)["Ready"] == ("True", "Serving") for a in accounts.values())
    assert system.namespace in up.stdout
    local = system.local_system()
    with FileserverClient(_client_config(local)) as api:
        managed = {a.email: a.managed_by for a in api.all_accounts()}
    assert managed == {a["spec"]["email"]: "fileserver-operator" for a in accounts.values()}
    # The stand-in Deployments' pods run on kwok's simulated nodes.
    pods = items(kubectl, "pods", system.namespace)
    assert len(pods) == 3
    assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods), pods


def test_status_shows_the_operator_and_the_drive_accounts(
    system: ClusterSystem, up: subprocess.CompletedProcess[str]
) -> None:
    result = system.fileserver("status")
    assert result.returncode == 0, result.stdout + result.stderr
    operator = next(line for line in result.stdout.splitlines() if "operator" in line)
    assert "ready" in operator, result.stdout
    rows = [line for line in result.stdout.splitlines() if "Serving" in line]
    assert len(rows) == ACCOUNTS, result.stdout
    assert all("True" in row for row in rows), result.stdout


async def test_an_upload_gets_a_ready_file_replica_and_rotating_urls(
    system: ClusterSystem, up: subprocess.CompletedProcess[str], kubectl: Kubectl
) -> None:
    data = b"replicated by the local system\n"
    with FileserverClient(_client_config(system.local_system())) as api:
        uploaded = api.upload([data], name="hello.txt", size=len(data), content_type="text/plain")
        api.wait_file(uploaded.id, timeout=300)
        served = api.wait_rotation(uploaded.id, accounts=ACCOUNTS, timeout=300)
    assert len(served) == ACCOUNTS  # each account got its turn

    async def replica_ready() -> None:
        replica = kubectl(
            "get", "filereplica", f"file-{uploaded.id}", f"--namespace={system.namespace}",
            "-o", "jsonpath={.status.phase} {.status.readyReplicas}", check=False,
        )  # fmt: skip
        assert replica == f"Ready {ACCOUNTS}", replica

    await eventually(replica_ready, within=120)


def test_check_consistency_compares_the_operators_resources_too(
    system: ClusterSystem, up: subprocess.CompletedProcess[str]
) -> None:
    result = system.fileserver("check-consistency", "--cluster", "--json", "--wait", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["consistent"] is True
    assert report["sizes"]["drive_accounts"] == ACCOUNTS
    assert report["sizes"]["file_replicas"] == report["sizes"]["files"] >= 1


def test_down_leaves_no_process_or_port(
    system: ClusterSystem, up: subprocess.CompletedProcess[str]
) -> None:
    local = system.local_system()
    pids = [local.process(s).pid() for s in local.managed()]
    pids += [local.stack.process(name).pid() for name in DATA_SERVERS]
    assert all(pids), pids
    ports = [*system.private.all_ports(), system.operator_port]

    result = system.fileserver("down")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "operator" in result.stdout
    assert [pid for pid in pids if pid and alive(pid)] == []
    assert [port for port in ports if port_in_use(port)] == []
    assert all(not s.pid for s in local.status())


def _client_config(local: LocalSystem) -> ClientConfig:
    return ClientConfig(
        uploader_url=local.service("uploader").url,
        downloader_url=local.service("downloader").url,
        uploader_token=local.secrets.uploader_admin_token,
        downloader_token=local.secrets.downloader_admin_token,
    )
