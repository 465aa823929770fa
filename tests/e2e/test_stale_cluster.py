"""A kind cluster left behind with stopped nodes (the engine was killed with it: an interrupted
session, a reboot, a CI cache that kept the engine's data) is recreated, not reused: kind cannot
restart a multi-node cluster reliably. Runs last, on the session's cluster, which it replaces.
"""

from __future__ import annotations

import subprocess

import pytest

from fileserver.devstack.kind import CLUSTER_NAME
from tests.e2e.conftest import Release

pytestmark = pytest.mark.e2e


def test_a_cluster_whose_nodes_stopped_is_recreated(release: Release) -> None:
    cluster = release.cluster
    node = f"{CLUSTER_NAME}-worker2"
    before = _container_ids(cluster.env)
    subprocess.run(["docker", "stop", node], env=cluster.env, check=True, capture_output=True)
    reason = cluster.stale_reason()
    assert reason is not None
    assert node in reason, reason
    assert cluster.exists()
    assert not cluster.usable()

    assert cluster.create() > 0  # it was made anew, not reused
    assert cluster.stale_reason() is None
    nodes = release.kube.json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(
        [f"{CLUSTER_NAME}-control-plane", f"{CLUSTER_NAME}-worker", node]
    )
    after = _container_ids(cluster.env)
    assert len(after) == 3, after
    assert not set(after) & set(before), (before, after)


def _container_ids(env: dict[str, str]) -> list[str]:
    return subprocess.run(
        ["docker", "ps", "--all", "--quiet",
         "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER_NAME}"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
