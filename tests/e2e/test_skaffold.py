"""skaffold on the kind cluster: ``skaffold run`` builds the image and deploys the chart from a
checkout; under ``skaffold dev`` a changed source file is synced into the running pods and what
they serve changes, without a rebuild or a new pod.

The tests run ``fileserver skaffold`` (the pinned skaffold, with the images this machine builds
in place of the public ones) in a copy of the project, so that the file the sync test edits is
not this checkout's. They share the ``release`` fixture's cluster: its release is uninstalled
first, since skaffold's release takes the same NodePorts.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import retry, stop_after_delay, wait_fixed

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.system.skaffold import RELEASE as SKAFFOLD_RELEASE
from tests.e2e.conftest import NAMESPACE, RELEASE, UPLOADER, Release, wait_http

pytestmark = pytest.mark.e2e

INSTANCE = f"app.kubernetes.io/instance={SKAFFOLD_RELEASE}"
SUMMARY = 'summary="Drive accounts and files; streamed staging; replication to the Drive pool."'


def _copy_project(target: Path) -> None:
    """The checkout's tracked and new files (what a clone would hold, with local edits)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())


@pytest.fixture(scope="module")
def project(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    kube = release.kube
    kube("delete", "driveaccounts", "--all", "-n", NAMESPACE, "--timeout=180s", check=False)
    kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--ignore-not-found")
    copy = tmp_path_factory.mktemp("skaffold-project")
    _copy_project(copy)
    yield copy
    kube.helm("uninstall", SKAFFOLD_RELEASE, "-n", NAMESPACE, "--wait", "--ignore-not-found")
    kube("delete", "pvc", "-n", NAMESPACE, "-l", INSTANCE, check=False)


def _skaffold(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("fileserver")), "skaffold", *args]


def _workloads(release: Release) -> list[dict[str, Any]]:
    return release.kube.items("deployments,statefulsets", "-l", INSTANCE)


def _uploader_pods(release: Release) -> list[dict[str, Any]]:
    return release.kube.items("pods", "-l", f"{INSTANCE},app.kubernetes.io/component=uploader")


def test_skaffold_run_builds_and_deploys_the_chart(release: Release, project: Path) -> None:
    proc = subprocess.run(
        _skaffold("run"), cwd=project, capture_output=True, text=True, timeout=1500, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Deployments stabilized" in proc.stdout + proc.stderr
    workloads = _workloads(release)
    assert {w["metadata"]["name"] for w in workloads} >= {
        f"{SKAFFOLD_RELEASE}-{name}" for name in ("uploader", "downloader", "stats", "operator")
    }
    for workload in workloads:
        status = workload["status"]
        assert status.get("readyReplicas", 0) == workload["spec"]["replicas"], status
    # The image skaffold built from the copy, loaded into kind under its image ID.
    (pod, *_) = _uploader_pods(release)
    image = pod["spec"]["containers"][0]["image"]
    assert image.startswith("fileserver/fileserver:"), image
    assert "@" not in image, image
    # `skaffold run` installs the chart as users do: no sync target, a read-only root.
    assert [c["name"] for c in pod["spec"].get("initContainers", [])] == []
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    wait_http(f"{UPLOADER}/readyz")


def test_skaffold_dev_sync_changes_what_a_running_process_serves(
    release: Release, project: Path, tmp_path: Path
) -> None:
    log = tmp_path / "skaffold-dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            _skaffold("dev", "--port-forward=off"), cwd=project, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 1500
        while "Deployments stabilized" not in log.read_text():
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(2)
        (pod,) = [p for p in _uploader_pods(release) if "deletionTimestamp" not in p["metadata"]]
        assert [c["name"] for c in pod["spec"]["initContainers"]] == ["source"]  # devReload
        before = wait_http(f"{UPLOADER}/openapi.json").json()["info"]["summary"]
        marker = f"synced {uuid.uuid4().hex[:8]}"
        main = project / "services" / "uploader" / "main.py"
        source = main.read_text()
        assert SUMMARY in source
        main.write_text(source.replace(SUMMARY, f'summary="{marker}"'))

        @retry(stop=stop_after_delay(180), wait=wait_fixed(2), reraise=True)
        def served() -> str:
            summary: str = httpx.get(f"{UPLOADER}/openapi.json", timeout=5).json()["info"][
                "summary"
            ]
            assert summary == marker, summary
            return summary

        assert before != marker
        assert served() == marker
        assert "Syncing 1 files" in log.read_text()
        # The same pod and container: the process restarted on the change, nothing was rebuilt.
        (after,) = [p for p in _uploader_pods(release) if "deletionTimestamp" not in p["metadata"]]
        assert after["metadata"]["uid"] == pod["metadata"]["uid"]
        assert (
            after["status"]["containerStatuses"][0]["restartCount"]
            == (pod["status"]["containerStatuses"][0]["restartCount"])
        )
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=300)
    # `skaffold dev` deletes what it deployed when it stops.
    assert "Cleaning up" in log.read_text()
    assert _workloads(release) == []
