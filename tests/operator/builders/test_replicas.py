"""FileReplica rules: the manifest for a file, phases, status and placement."""

from __future__ import annotations

from typing import Any

import pytest
from fileserver_operator.builders.replicas import (
    desired_replicas,
    manifest,
    phase,
    replica_status,
    resource_name,
    spec_drift,
    status_changed,
)

pytestmark = pytest.mark.unit

FILE: dict[str, Any] = {
    "id": "0123456789abcdef0123456789abcdef",
    "name": "movie.mkv",
    "size": 1234,
    "sha256": "a" * 64,
    "status": "replicating",
    "desired_replicas": None,
    "replicas": [],
}


def _replica(account: str, state: str, attempts: int = 0) -> dict[str, Any]:
    return {"account_id": account, "state": state, "attempts": attempts, "drive_file_id": None}


def test_manifest_mirrors_the_file_and_its_placement() -> None:
    body = manifest({**FILE, "desired_replicas": 2}, "ns")
    assert body["metadata"]["name"] == resource_name(FILE["id"]) == f"file-{FILE['id']}"
    assert body["metadata"]["labels"]["fileserver.io/file-id"] == FILE["id"]
    assert body["spec"] == {
        "fileId": FILE["id"],
        "name": "movie.mkv",
        "size": 1234,
        "sha256": "a" * 64,
        "placement": {"mode": "Count", "replicas": 2, "demandDriven": False},
    }
    assert manifest(FILE, "ns")["spec"]["placement"]["mode"] == "All"


def test_placement_maps_to_desired_replicas() -> None:
    assert desired_replicas({"mode": "All"}) is None
    assert desired_replicas(None) is None
    assert desired_replicas({"mode": "Count", "replicas": 3}) == 3


def test_renames_are_drift_but_the_file_id_never_is() -> None:
    spec = manifest(FILE, "ns")["spec"]
    assert spec_drift(FILE, spec) == {}
    assert spec_drift({**FILE, "name": "new.mkv"}, spec) == {"name": "new.mkv"}


@pytest.mark.parametrize(
    ("file", "ready", "desired", "previous", "expected"),
    [
        ({**FILE, "replicas": [_replica("a", "pending")]}, 0, 2, None, "Pending"),
        ({**FILE, "replicas": [_replica("a", "pending", attempts=1)]}, 0, 2, None, "Replicating"),
        ({**FILE, "status": "uploaded"}, 2, 2, "Replicating", "Ready"),
        ({**FILE, "status": "uploaded"}, 1, 2, "Ready", "Degraded"),
        ({**FILE, "status": "replicating"}, 2, 3, "Ready", "Degraded"),
        ({**FILE, "status": "replicating"}, 1, 3, "Replicating", "Replicating"),
        ({**FILE, "status": "failed"}, 0, 2, "Replicating", "Failed"),
    ],
)
def test_phases(
    file: dict[str, Any], ready: int, desired: int, previous: str | None, expected: str
) -> None:
    assert phase(file, ready, desired, previous) == expected


def test_status_names_accounts_and_counts_replicas() -> None:
    file = {
        **FILE,
        "status": "uploaded",
        "replicas": [
            {**_replica("id-b", "ready"), "drive_file_id": "d1"},
            _replica("id-a", "ready"),
        ],
    }
    status = replica_status(
        file,
        account_names={"id-a": "alpha", "id-b": "beta"},
        eligible_accounts=2,
        generation=4,
        placement={"mode": "All"},
        current=None,
    )
    assert status["phase"] == "Ready"
    assert (status["readyReplicas"], status["desiredReplicas"]) == (2, 2)
    assert status["replicas"] == [
        {"account": "alpha", "state": "ready"},
        {"account": "beta", "state": "ready", "driveFileId": "d1"},
    ]
    assert status["observedGeneration"] == 4
    # A placement the Uploader has not taken yet leaves observedGeneration where it was.
    pending = replica_status(
        file,
        account_names={},
        eligible_accounts=2,
        generation=5,
        placement={"mode": "Count", "replicas": 1},
        current=status,
    )
    assert pending["observedGeneration"] == 4
    assert not status_changed(status, status)
    assert status_changed(pending, status)
