"""Fixtures of the chart tests: the chart's path, the devstack's helm, rendering helpers."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fileserver.devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "fileserver"
KUBE_VERSION = "1.34.0"

# Values that turn off every optional component (external servers instead of bundled ones).
MINIMAL = [
    "operator.enabled=false",
    "driveEmulator.enabled=false",
    "postgresql.enabled=false",
    "postgresql.external.url=postgresql://fs:pw@db.example:5432/fs",
    "redis.enabled=false",
    "redis.external.url=redis://:pw@redis.example:6379/0",
    "mongodb.enabled=false",
    "mongodb.external.url=mongodb://fs:pw@mongo.example:27017/",
    "networkPolicy.enabled=false",
    "metrics.podAnnotations=false",
    "metrics.grafanaDashboard.enabled=false",
    "jmeter.helmTest=false",
    "uploader.pdb.enabled=false",
    "uploaderWorker.pdb.enabled=false",
    "downloader.pdb.enabled=false",
    "stats.pdb.enabled=false",
]
# kwok nodes have no storage provisioner: installs that must become Ready use emptyDirs.
NO_PERSISTENCE = [
    "postgresql.persistence.enabled=false",
    "redis.persistence.enabled=false",
    "mongodb.persistence.enabled=false",
]


def set_args(values: list[str]) -> list[str]:
    """``--set`` flags for ``helm`` from ``key=value`` strings."""
    return [arg for value in values for arg in ("--set", value)]


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """The devstack's helm (built by ``fileserver dev install``; no server needed)."""
    path = Stack().ctx.binaries.helm
    assert path.exists(), f"{path} is missing: run `uv run fileserver dev install`"
    return path


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run helm without a cluster (template, lint)."""
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, timeout=120
    )


Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def render(helm_bin: Path) -> Render:
    """``render(*values, namespace=...)``: the chart's objects from ``helm template``."""

    def _render(*values: str, namespace: str = "demo") -> list[dict[str, Any]]:
        proc = run_helm(
            helm_bin, "template", "fs", str(CHART), "-n", namespace,
            f"--kube-version={KUBE_VERSION}", *set_args(list(values)),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]

    return _render


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def secret_values(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The decoded data of the chart's one Secret."""
    (secret,) = by_kind(objects, "Secret").values()
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
