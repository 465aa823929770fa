"""``fileserver up --cluster``: the whole system as the chart's pods on the kind cluster.

``up --cluster`` starts the devstack's container engine, builds every image (cached by its
inputs), creates the kind cluster of kind-config.yaml on the node image built here, loads the
images into its nodes and installs the chart (release ``fs``) with them: the services, their
workers, the operator and the datastores are pods; nothing runs as a local process. The chart's
NodePorts are reached on the host through kind-config.yaml's port mappings. What ``up``
learned (the URLs, the release's tokens read from its Secret, what it started) is recorded in
``.state/system/cluster.json`` (mode 0600), so that ``status``, ``demo``, ``check-consistency
--cluster`` and the client commands find the system as they find the local one, and ``down``
deletes exactly what ``up`` made.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.kind import CLUSTER_NAME, KIND_CONFIG, KindCluster, kubeconfig_path
from fileserver.devstack.report import info, stage
from fileserver.devstack.stack import Stack
from fileserver.system import kube
from fileserver.system.config import SystemSettings
from fileserver.system.secrets import SystemSecrets
from fileserver.system.system import LocalSystem, ServiceStatus

# The chart's NodePorts (values.yaml) of what the host reaches, by the names the commands use.
NODE_PORTS = {"uploader": 30080, "downloader": 30081, "drive-emulator": 30090, "prometheus": 30900}
SECRET_KEYS = {
    "uploader_admin_token": "uploader-admin-token",
    "downloader_admin_token": "downloader-admin-token",
    "downloader_internal_token": "internal-token",
    "emulator_admin_token": "emulator-admin-token",
    "credentials_key": "credentials-key",
}


def host_ports(config: Path = KIND_CONFIG) -> dict[int, str]:
    """NodePort → ``http://<listen address>:<host port>`` from kind-config.yaml's mappings."""
    nodes = yaml.safe_load(config.read_text())["nodes"]
    return {
        m["containerPort"]: f"http://{m.get('listenAddress', '127.0.0.1')}:{m['hostPort']}"
        for node in nodes
        for m in node.get("extraPortMappings", [])
    }


def host_urls() -> dict[str, str]:
    """What the host reaches, by name: the chart's NodePorts through kind-config.yaml."""
    mapped = host_ports()
    return {name: mapped[port] for name, port in NODE_PORTS.items()}


# The chart's bundled servers: each has an ``image`` value (values.yaml).
BUNDLED_SERVERS = ("postgresql", "redis", "mongodb", "prometheus", "jmeter")


def bundled_values(images: dict[str, str]) -> list[str]:
    """The chart's bundled servers on the images built here (MongoDB's is FerretDB's)."""
    return [
        f"postgresql.image={images['postgresql']}",
        f"redis.image={images['redis']}",
        f"mongodb.image={images['mongodb']}",
        "mongodb.auth=false",  # FerretDB on SQLite has no users to authenticate
        "prometheus.enabled=true",
        f"prometheus.image={images['prometheus']}",
        f"jmeter.image={images['jmeter']}",
    ]


def public_images(values: Path = kube.CHART / "values.yaml") -> dict[str, str]:
    """The bundled servers' images the chart runs by default (MongoDB's is ``mongo``)."""
    defaults = yaml.safe_load(values.read_text())
    return {name: defaults[name]["image"] for name in BUNDLED_SERVERS}


def chart_values(images: dict[str, str], node_address: str, *, public: bool = False) -> list[str]:
    """The chart's values on kind with the images built here (docs/deploy.md, "kind").

    Download URLs name the emulator's NodePort on a node's address, which this machine and
    the pods (the in-cluster JMeter Job) both reach; 127.0.0.1 would be the pod itself. With
    ``public`` images the bundled servers keep the chart's defaults, pulled by the nodes.
    """
    repository, tag = images["app"].rsplit(":", 1)
    return [
        f"image.repository={repository}",
        f"image.tag={tag}",
        "image.pullPolicy=Never",
        *(["prometheus.enabled=true"] if public else bundled_values(images)),
        "prometheus.service.type=NodePort",
        "uploader.service.type=NodePort",
        "downloader.service.type=NodePort",
        "driveEmulator.service.type=NodePort",
        # Drive's files outlive the emulator's pod, as Google's outlive an upgrade.
        "driveEmulator.persistence.enabled=true",
        f"driveEmulator.publicUrl=http://{node_address}:{NODE_PORTS['drive-emulator']}/",
    ]


@dataclass(frozen=True)
class Installed:
    """What ``up --cluster`` installed: the images, the values and how long Ready took."""

    cluster: KindCluster
    images: dict[str, str]
    values: list[str]
    helm_seconds: float


class ClusterSystem:
    """The system as the chart's release on the kind cluster, found through its record."""

    def __init__(self, stack: Stack | None = None, settings: SystemSettings | None = None) -> None:
        self.stack = stack or Stack()
        self.settings = settings or SystemSettings()
        self.record_file = self.stack.settings.state_dir / "system" / "cluster.json"
        self.urls = host_urls()

    @staticmethod
    def recorded(state_dir: Path) -> bool:
        """Whether ``up --cluster`` left a system recorded in ``state_dir``."""
        return (state_dir / "system" / "cluster.json").is_file()

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def kubeconfig(self) -> Path:
        return kubeconfig_path(self.stack.settings)

    def kube_tools(self) -> kube.KubeTools:
        return kube.KubeTools(self.stack, self.kubeconfig)

    def url(self, name: str) -> str:
        return self.urls[name]

    @cached_property
    def secrets(self) -> SystemSecrets:
        return SystemSecrets(**self._record()["secrets"])

    def operator_log_tail(self) -> str:
        return self.kube_tools()(
            "logs", f"deployment/{kube.FULLNAME}-operator", "-n", self.namespace, "--tail=30",
            check=False,
        )  # fmt: skip

    # --- up and down ---------------------------------------------------------------------

    def up(self) -> Installed:
        """Engine, images, cluster, release; records what it made. Idempotent."""
        started = self.stack.up(["docker"])
        cluster = self.stack.kind()
        existed = cluster.usable()  # a stale cluster is recreated: then this run made it
        try:
            cluster.create()
            installed = self.install(cluster)
        except BaseException:
            if not existed:
                cluster.delete()
            self.stack.down(started)
            raise
        previous = self._record() if self.record_file.is_file() else {}
        self._write(
            {
                "secrets": asdict(self._release_secrets()),
                "started": sorted(set(previous.get("started", [])) | set(started)),
                "created_cluster": previous.get("created_cluster", False) or not existed,
            }
        )
        return installed

    def install(self, cluster: KindCluster) -> Installed:
        """``helm upgrade --install --wait`` of the chart with the images built here."""
        built = cluster.images
        public = self.stack.settings.images == "public"
        if public:
            cluster.load(built.app())
            images = {"app": built.app(), **public_images()}
        else:
            images = {"app": built.app(), **built.datastores(self.stack.ctx.binaries.ferretdb)}
            cluster.load(*images.values())
        tools = self.kube_tools()
        nodes = json.loads(
            tools("get", "nodes", "-l", "node-role.kubernetes.io/control-plane", "-o", "json")
        )["items"]
        address = next(
            a["address"] for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP"
        )
        values = chart_values(images, address, public=public)
        self._recover_interrupted_release(tools)
        began = time.monotonic()
        with stage(f"helm install {kube.RELEASE} into namespace {self.namespace}"):
            tools.helm(
                "upgrade", "--install", kube.RELEASE, str(kube.CHART), "-n", self.namespace,
                "--create-namespace", "--wait", "--timeout=10m",
                *[a for v in values for a in ("--set", v)],
            )  # fmt: skip
        return Installed(cluster, images, values, time.monotonic() - began)

    def _recover_interrupted_release(self, tools: kube.KubeTools) -> None:
        """Undo a ``helm`` run that was killed mid-way (an interrupted ``up --cluster``).

        Helm then leaves the release ``pending-*`` and refuses every later upgrade ("another
        operation is in progress"). ``up --cluster`` is this release's only writer, so the
        pending revision is rolled back to the last good one, or uninstalled if none was.
        """
        listed = tools.helm("history", kube.RELEASE, "-n", self.namespace, "-o", "json",
                            check=False)  # fmt: skip
        history = json.loads(listed) if listed.strip().startswith("[") else []
        if not history or not history[-1]["status"].startswith("pending-"):
            return
        good = [r["revision"] for r in history if r["status"] in ("deployed", "superseded")]
        info(f"release {kube.RELEASE} was left {history[-1]['status']} by an interrupted run")
        if good:
            tools.helm("rollback", kube.RELEASE, str(good[-1]), "-n", self.namespace, "--wait",
                       "--timeout=10m")  # fmt: skip
        else:
            tools.helm("uninstall", kube.RELEASE, "-n", self.namespace, "--wait")

    def _release_secrets(self) -> SystemSecrets:
        secret = json.loads(
            self.kube_tools()("get", "secret", kube.FULLNAME, "-n", self.namespace, "-o", "json")
        )
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        return SystemSecrets(**{field: data[key] for field, key in SECRET_KEYS.items()})

    def down(self) -> list[str]:
        """Delete the cluster if ``up`` created it (else uninstall the release), stop what
        ``up`` started; the images stay cached."""
        record = self._record()
        cluster = self.stack.kind()
        if record["created_cluster"]:
            cluster.delete()
            stopped = [f"kind cluster {CLUSTER_NAME}"]
        else:
            self.kube_tools().helm("uninstall", kube.RELEASE, "-n", self.namespace, check=False)
            stopped = [f"release {kube.RELEASE}"]
        stopped += self.stack.down(record["started"])
        self.record_file.unlink()
        return stopped

    # --- status --------------------------------------------------------------------------

    def status(self) -> list[ServiceStatus]:
        """Every component's workload: ready when all its replicas are."""
        listed = self.kube_tools()(
            "get", "deployments,statefulsets", "-n", self.namespace, "-o", "json", check=False,
        )  # fmt: skip
        try:
            workloads: list[dict[str, Any]] = json.loads(listed)["items"]
        except (ValueError, KeyError):
            workloads = []
        result = []
        for workload in workloads:
            labels = workload["metadata"].get("labels", {})
            component = labels.get("app.kubernetes.io/component", workload["metadata"]["name"])
            wanted = workload["spec"].get("replicas", 1)
            ready = workload["status"].get("readyReplicas", 0)
            result.append(
                ServiceStatus(
                    component,
                    None,
                    ready == wanted and wanted > 0,
                    self.urls.get(component, ""),
                    pods=f"{ready}/{wanted}",
                )
            )
        return sorted(result, key=lambda s: s.name)

    # --- the record ----------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        try:
            record: dict[str, Any] = json.loads(self.record_file.read_text())
        except FileNotFoundError as exc:
            raise DevstackError(
                f"no cluster system recorded in {self.record_file}",
                "run fileserver up --cluster",
            ) from exc
        return record

    def _write(self, record: dict[str, Any]) -> None:
        self.record_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.record_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)


System = LocalSystem | ClusterSystem


def current_system() -> System:
    """The system ``fileserver up`` recorded in this state folder: the cluster's if ``up
    --cluster`` made one, else the local processes'."""
    stack = Stack(cluster=False)
    if ClusterSystem.recorded(stack.settings.state_dir):
        return ClusterSystem(Stack())
    return LocalSystem(stack)


def logs(system: ClusterSystem, name: str, *, follow: bool, lines: int) -> int:
    """``kubectl logs`` of a component's workload (all its containers' first pod)."""
    kind = "statefulset" if name in {"postgresql", "redis", "mongodb"} else "deployment"
    argv = [
        str(system.kube_tools().kubectl), f"--kubeconfig={system.kubeconfig}", "logs",
        f"{kind}/{kube.FULLNAME}-{name}", "-n", system.namespace, f"--tail={lines}",
        *(["--follow"] if follow else []),
    ]  # fmt: skip
    return subprocess.call(argv)
