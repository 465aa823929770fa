"""The end-to-end tests' system: the chart installed on a real kind cluster.

The module runs what ``fileserver up --cluster`` runs: it builds every image here (or finds it
cached by its inputs), creates the kind cluster ``fileserver`` on the node image built here,
loads the images into its nodes and installs the chart with them: real pods, real containers,
real NetworkPolicy enforcement. A cluster left by an earlier run is deleted first, and
``fileserver down`` deletes the session's when its tests end (test_kind.py's on the release,
then test_skaffold.py's and test_stale_cluster.py's on the same cluster;
``FILESERVER_TEST_KEEP_STACK=1`` keeps it, and reuses a kept one), so a run never relies on
what an earlier one left behind, and the host ports kind-config.yaml maps (8080, 8081, 8090,
9090) are free again for the tests that follow.
"""

from __future__ import annotations

import base64
import json
import os
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
from fileserver.devstack.servers import port_in_use
from fileserver.system.cluster import ClusterSystem, host_urls
from fileserver.system.kube import KubeTools

NAMESPACE = "fileserver"
RELEASE = "fs"
FULL = f"{RELEASE}-fileserver"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
# kind-config.yaml's port mappings of the chart's NodePorts, on the host's loopback.
_URLS = host_urls()
UPLOADER = _URLS["uploader"]
DOWNLOADER = _URLS["downloader"]
EMULATOR = _URLS["drive-emulator"]
PROMETHEUS = _URLS["prometheus"]


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


@pytest.fixture(scope="session")
def release() -> Iterator[Release]:
    """What ``fileserver up --cluster`` makes (without its demo accounts: the tests make their
    own): engine, images, kind cluster, the chart installed with ``helm --wait``. At the end
    ``fileserver down`` deletes the cluster unless ``FILESERVER_TEST_KEEP_STACK=1``."""
    system = ClusterSystem()
    if os.environ.get("FILESERVER_TEST_KEEP_STACK") != "1":
        _clear_leftovers(system)
    try:
        installed = system.up()
    except DevstackError as exc:
        pytest.fail(f"fileserver up --cluster failed:\n{exc}", pytrace=False)
    kube = Kube(system.stack, installed.cluster.kubeconfig)
    secret = kube.json("get", "secret", FULL, "-n", NAMESPACE)
    tokens = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    timings = {
        "kind_create_seconds": installed.cluster.created_seconds,
        "helm_install_to_ready_seconds": installed.helm_seconds,
    }
    built = installed.cluster.images
    # Public images (FILESERVER_DEV_IMAGES=public) are pulled by the nodes, not the engine.
    sizes = {t: built.engine.size(t) for t in installed.images.values() if built.engine.has(t)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e-kind.json").write_text(
        json.dumps({"timings": timings, "image_bytes": sizes}, indent=2) + "\n"
    )
    yield Release(kube, installed.cluster, installed.images, installed.values, tokens, timings)
    if os.environ.get("FILESERVER_TEST_KEEP_STACK") != "1":
        stopped = system.down()
        assert any("kind cluster" in what for what in stopped), stopped
        assert not system.record_file.exists()
        # Asked without the engine (asking kind would start it again): the mapped ports are free.
        assert not [url for url in _URLS.values() if port_in_use(int(url.rsplit(":", 1)[1]))]


def _clear_leftovers(system: ClusterSystem) -> None:
    """Delete a cluster an earlier run left (killed before its teardown, its engine's data kept
    by a cache): the session starts on a cluster of its own, whatever was there."""
    started = system.stack.up(["docker"])
    try:
        system.stack.kind().delete()
    finally:
        system.stack.down(started)
    system.record_file.unlink(missing_ok=True)


@retry(stop=stop_after_delay(120), wait=wait_fixed(1), reraise=True)
def wait_http(url: str, expect: int = 200) -> httpx.Response:
    response = httpx.get(url, timeout=5)
    assert response.status_code == expect, (url, response.status_code, response.text[:200])
    return response
