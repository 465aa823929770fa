"""``fileserver skaffold``: skaffold's inner loop on the devstack's kind cluster.

skaffold.yaml is written for any kind cluster on a machine that can pull the public Python
image and the chart's bundled servers' images. This machine pulls nothing, so the command
prepares what skaffold cannot: the pinned skaffold built from the Go module proxy, the
container engine, the kind cluster on the node image built here, the Python base the
Dockerfile builds on (``PYTHON_IMAGE``) and the bundled servers' images, built and loaded into
the nodes and named in a values file (with ``FILESERVER_DEV_IMAGES=public``, on a machine that
pulls, skaffold.yaml runs as it is, on the public images). It then runs skaffold with the
arguments given, in the environment that points it there: the engine's socket, the cluster's
kubeconfig and context (``kind-fileserver``, which makes skaffold load what it builds with
``kind load``), the devstack's kind, helm and kubectl on ``PATH`` and skaffold.yaml's
``devstack`` profile, which reads the base and the values file from the environment. The engine
and the cluster stay up afterwards: ``fileserver dev kind down`` deletes the cluster,
``fileserver dev down`` stops the engine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.kind import CLUSTER_NAME, ensure_skaffold
from fileserver.devstack.report import info
from fileserver.devstack.stack import Stack
from fileserver.system import kube
from fileserver.system.cluster import bundled_values
from fileserver.system.config import SystemSettings

# skaffold.yaml's release: its name and namespace.
RELEASE = "fileserver"
NAMESPACE = "fileserver"
# skaffold's global settings here: nothing is sent anywhere, nothing asked.
GLOBAL_CONFIG = {
    "global": {
        "collect-metrics": False,
        "update-check": False,
        "survey": {"disable-prompt": True},
    }
}


def nested(values: list[str]) -> dict[str, Any]:
    """``a.b=c`` settings (as ``helm --set`` takes them) as the values file they mean."""
    tree: dict[str, Any] = {}
    for setting in values:
        key, value = setting.split("=", 1)
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value) if value in ("true", "false") else value
    return tree


class Skaffold:
    """The pinned skaffold, run against the kind cluster with the images built here."""

    def __init__(self, stack: Stack | None = None, settings: SystemSettings | None = None) -> None:
        self.stack = stack or Stack()
        self.settings = settings or SystemSettings()
        self.state = self.stack.settings.state_dir / "skaffold"

    def binary(self) -> Path:
        return ensure_skaffold(self.stack.versions, self.stack.settings.cache_dir)

    def prepare(self, skaffold: Path) -> dict[str, str]:
        """Engine, cluster, base and bundled images; the environment ``skaffold`` runs in.

        With public images only the engine and the cluster: skaffold.yaml's default profile
        builds on the Dockerfile's default base and deploys the chart's default images.
        """
        self.stack.up(["docker"])
        cluster = self.stack.kind()
        cluster.create()
        tools = kube.KubeTools(self.stack, cluster.kubeconfig)
        if tools.helm("status", kube.RELEASE, "-n", self.settings.namespace, check=False):
            raise DevstackError(
                f"release {kube.RELEASE} of `fileserver up --cluster` holds the chart's "
                "NodePorts on this cluster",
                "run `fileserver down` first (skaffold deploys a release of its own)",
            )
        self.state.mkdir(parents=True, exist_ok=True)
        profile: dict[str, str] = {}
        if self.stack.settings.images == "built":
            built = cluster.images
            bundled = built.datastores(self.stack.ctx.binaries.ferretdb)
            cluster.load(*bundled.values())
            values_file = self.state / "values.yaml"
            values_file.write_text(yaml.safe_dump(nested(bundled_values(bundled))))
            profile = {
                "FILESERVER_DEVSTACK": "1",
                "PYTHON_IMAGE": built.python(),
                "FILESERVER_SKAFFOLD_VALUES": str(values_file),
            }
        config_file = self.state / "config"
        config_file.write_text(yaml.safe_dump(GLOBAL_CONFIG))
        tool_dirs = [skaffold.parent, cluster.binaries.kind.parent, tools.kubectl.parent,
                     tools.helm_binary.parent]  # fmt: skip
        return {
            **cluster.env,
            "PATH": os.pathsep.join([*map(str, tool_dirs), os.environ.get("PATH", "")]),
            "KUBECONFIG": str(cluster.kubeconfig),
            "SKAFFOLD_KUBE_CONTEXT": f"kind-{CLUSTER_NAME}",
            "SKAFFOLD_CONFIG": str(config_file),
            **profile,
        }

    def exec(self, args: list[str]) -> NoReturn:
        """Become skaffold ``args`` in the prepared environment: its signals (Ctrl-C stops
        ``skaffold dev``, which then deletes what it deployed) and exit status are its own."""
        binary = str(self.binary())
        env = self.prepare(Path(binary))
        info(f"skaffold {' '.join(args)} on the kind cluster {CLUSTER_NAME}")
        sys.stdout.flush()
        sys.stderr.flush()  # what this process printed, before it becomes skaffold
        os.execve(binary, [binary, *args], env)  # noqa: S606
