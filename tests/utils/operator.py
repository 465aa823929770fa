"""Running the operator for tests: a namespace set up as the chart sets it (by the helpers of
``fileserver.system.kube``), and the operator as a real ``kopf run`` process with the chart's
ServiceAccount token (so RBAC is exercised)."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fileserver.devstack.process import ManagedProcess, ProcessSpec
from fileserver.system.kube import DEPLOYMENTS as DEPLOYMENTS  # re-exported for the tests
from fileserver.system.kube import SERVICE_ACCOUNT as SERVICE_ACCOUNT
from fileserver.system.kube import (
    conditions,
    credentials_namespace,
    credentials_secret,
    drive_account,
)
from fileserver.system.services import operator_env as local_operator_env
from fileserver.system.system import LocalSystem
from tests.fixtures.stack import Kubectl
from tests.utils.drive import PROJECT_ROOT, EmulatorAccount, EmulatorAdmin, free_port
from tests.utils.waiting import eventually

KOPF = Path(sys.executable).parent / "kopf"


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
    env |= local_operator_env(system.settings, system.secrets, namespace, kubeconfig)
    env |= {f"FILESERVER_OPERATOR_{k.upper()}": v for k, v in overrides.items()}
    return env


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

    @property
    def credentials_namespace(self) -> str:
        """Where the DriveAccounts' Secrets go (the operator may read Secrets nowhere else)."""
        return credentials_namespace(self.namespace)

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


async def add_account(
    cluster: Cluster, emulator: EmulatorAdmin, name: str, budget: str = "100G", **limits: int
) -> EmulatorAccount:
    """An emulator account, its Secret and its DriveAccount."""
    account = await emulator.create_account(**limits)
    cluster.apply(
        credentials_secret(f"{name}-creds", cluster.credentials_namespace, account.credentials),
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
