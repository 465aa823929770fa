"""The end-to-end tests' system: the chart installed on a real kind cluster.

The module builds every image here (or finds it cached by its inputs), creates the kind
cluster ``fileserver`` on the node image built here, loads the images into its nodes and
installs the chart with them: real pods, real containers, real NetworkPolicy enforcement. The
cluster is deleted when the module's tests end (``FILESERVER_TEST_KEEP_STACK=1`` keeps it), so a
run never relies on what an earlier one left behind, and the host ports kind-config.yaml maps
(8080, 8081, 8090, 9090) are free again for the tests that follow.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import retry, stop_after_delay, wait_fixed

from fileserver.consistency.collect import ClusterSource, Endpoints
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.kind import KindCluster
from fileserver.devstack.stack import Stack
from fileserver.system.kube import CHART, KubeTools

NAMESPACE = "fileserver"
RELEASE = "fs"
FULL = f"{RELEASE}-fileserver"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
# kind-config.yaml's port mappings of the chart's NodePorts, on the host's loopback.
UPLOADER = "http://127.0.0.1:8080"
DOWNLOADER = "http://127.0.0.1:8081"
EMULATOR = "http://127.0.0.1:8090"
PROMETHEUS = "http://127.0.0.1:9090"


class Kube(KubeTools):
    """kubectl and helm on the kind cluster; a failed command is an AssertionError."""

    def _run(self, argv: list[str], stdin: str | None, check: bool) -> str:
        proc = self._exec(argv, stdin)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv[:4])} failed: {proc.stderr.strip()}")
        return proc.stdout if proc.returncode == 0 else proc.stdout + proc.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def items(self, kind: str, *args: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("get", kind, "-n", namespace, *args)["items"]
        return found


@dataclass
class Release:
    """The installed chart: its images, values, tokens and how long it took to be Ready."""

    kube: Kube
    cluster: KindCluster
    images: dict[str, str]
    values: list[str]
    tokens: dict[str, str]
    timings: dict[str, float]

    def endpoints(self) -> Endpoints:
        """What ``fileserver check-consistency --cluster`` reads, on this release."""
        return Endpoints(
            uploader=UPLOADER,
            uploader_token=self.tokens["uploader-admin-token"],
            downloader=DOWNLOADER,
            downloader_admin_token=self.tokens["downloader-admin-token"],
            downloader_internal_token=self.tokens["internal-token"],
            emulator=EMULATOR,
            emulator_token=self.tokens["emulator-admin-token"],
            cluster=ClusterSource(self.kube, NAMESPACE),
        )

    def helm_set(self, *extra: str) -> list[str]:
        return [arg for value in [*self.values, *extra] for arg in ("--set", value)]

    def admin(self, service: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[f'{service}-admin-token']}"}


def chart_values(images: dict[str, str], node_address: str) -> list[str]:
    """The chart's values on kind with the images built here (docs/deploy.md, "kind").

    Download URLs name the emulator's NodePort on a node's address, which this machine and
    the pods (the in-cluster JMeter Job) both reach; 127.0.0.1 would be the pod itself.
    """
    repository, tag = images["app"].rsplit(":", 1)
    return [
        f"image.repository={repository}",
        f"image.tag={tag}",
        "image.pullPolicy=Never",
        f"postgresql.image={images['postgresql']}",
        f"redis.image={images['redis']}",
        f"mongodb.image={images['mongodb']}",
        "mongodb.auth=false",
        "prometheus.enabled=true",
        f"prometheus.image={images['prometheus']}",
        "prometheus.service.type=NodePort",
        f"jmeter.image={images['jmeter']}",
        "uploader.service.type=NodePort",
        "downloader.service.type=NodePort",
        "driveEmulator.service.type=NodePort",
        # Drive's files outlive the emulator's pod, as Google's outlive an upgrade.
        "driveEmulator.persistence.enabled=true",
        f"driveEmulator.publicUrl=http://{node_address}:30090/",
    ]


@pytest.fixture(scope="module")
def kind_cluster() -> Iterator[KindCluster]:
    stack = Stack()
    try:
        cluster = stack.kind()
        cluster.create()
    except DevstackError as exc:
        pytest.fail(f"the kind cluster could not be created:\n{exc}", pytrace=False)
    yield cluster
    if os.environ.get("FILESERVER_TEST_KEEP_STACK") != "1":
        cluster.delete()


@pytest.fixture(scope="module")
def kube(kind_cluster: KindCluster) -> Kube:
    return Kube(Stack(), kind_cluster.kubeconfig)


@pytest.fixture(scope="module")
def release(kind_cluster: KindCluster, kube: Kube) -> Release:
    """The chart installed with ``helm install --wait``; uninstalled by the uninstall test."""
    stack = Stack()
    built = kind_cluster.images
    images = {"app": built.app(), **built.datastores(stack.ctx.binaries.ferretdb)}
    kind_cluster.load(*images.values())
    nodes = kube.json("get", "nodes", "-l", "node-role.kubernetes.io/control-plane")["items"]
    address = next(
        a["address"] for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP"
    )
    values = chart_values(images, address)
    started = time.monotonic()
    kube.helm(
        "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace",
        "--wait", "--timeout=10m", *[a for v in values for a in ("--set", v)],
    )  # fmt: skip
    ready = time.monotonic() - started
    secret = kube.json("get", "secret", FULL, "-n", NAMESPACE)
    tokens = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    timings = {
        "kind_create_seconds": kind_cluster.created_seconds,
        "helm_install_to_ready_seconds": ready,
    }
    sizes = {tag: built.engine.size(tag) for tag in images.values()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e-kind.json").write_text(
        json.dumps({"timings": timings, "image_bytes": sizes}, indent=2) + "\n"
    )
    return Release(kube, kind_cluster, images, values, tokens, timings)


@retry(stop=stop_after_delay(120), wait=wait_fixed(1), reraise=True)
def wait_http(url: str, expect: int = 200) -> httpx.Response:
    response = httpx.get(url, timeout=5)
    assert response.status_code == expect, (url, response.status_code, response.text[:200])
    return response
