"""FileReplica rules: the resource for an Uploader file, its phase and status, its placement.

Single writers: the operator's catalog sync writes the file-derived spec fields (``fileId``,
``name``, ``size``, ``sha256``) and the whole status; people write ``spec.placement`` only, and
the operator pushes it to the Uploader, which owns the replicas themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apis.common import API_VERSION
from apis.filereplica import FileReplica, FileReplicaPhase, FileReplicaSpec, PlacementMode
from fileserver_operator.builders.conditions import condition, merge
from fileserver_operator.builders.placement import Decision, is_demand_driven

FILE_ID_LABEL = "fileserver.io/file-id"
MANAGED_BY = {"app.kubernetes.io/managed-by": "fileserver-operator"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def resource_name(file_id: str) -> str:
    """FileReplica name of a file (Uploader ids are 32 hex digits: a valid DNS label)."""
    return f"file-{file_id.lower()}"


def placement_of(file: Mapping[str, Any]) -> dict[str, Any]:
    """The Uploader's ``desired_replicas`` as a placement."""
    wanted = file.get("desired_replicas")
    if wanted is None:
        return {"mode": PlacementMode.ALL.value}
    return {"mode": PlacementMode.COUNT.value, "replicas": int(wanted)}


def desired_replicas(placement: Mapping[str, Any] | None) -> int | None:
    """The Uploader's ``desired_replicas`` for a placement (None: every account)."""
    placement = placement or {}
    if placement.get("mode", PlacementMode.ALL.value) == PlacementMode.COUNT.value:
        return int(placement["replicas"])
    return None


def file_spec(file: Mapping[str, Any]) -> dict[str, Any]:
    """The file-derived spec fields (the operator's part of the spec)."""
    spec: dict[str, Any] = {"fileId": file["id"], "name": file["name"], "size": file["size"]}
    sha = file.get("sha256")
    if isinstance(sha, str) and _SHA256.match(sha):
        spec["sha256"] = sha
    return spec


def manifest(file: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A new FileReplica for an Uploader file, its placement copied from the Uploader."""
    spec = FileReplicaSpec.model_validate({**file_spec(file), "placement": placement_of(file)})
    return {
        "apiVersion": API_VERSION,
        "kind": FileReplica.KIND,
        "metadata": {
            "name": resource_name(file["id"]),
            "namespace": namespace,
            "labels": {FILE_ID_LABEL: file["id"], **MANAGED_BY},
        },
        "spec": spec.to_k8s(),
    }


def spec_drift(file: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Spec fields to patch so the resource matches the file (a rename, say); empty if none."""
    wanted = file_spec(file)
    return {k: v for k, v in wanted.items() if k != "fileId" and spec.get(k) != v}


def phase(file: Mapping[str, Any], ready: int, desired: int, previous: str | None) -> str:
    """Pending → Replicating → Ready; Degraded once ready copies fall short; Failed."""
    status = file.get("status")
    if status == "failed":
        return FileReplicaPhase.FAILED.value
    if status == "uploaded":
        return (FileReplicaPhase.READY if ready >= desired else FileReplicaPhase.DEGRADED).value
    if ready > 0 and previous in (FileReplicaPhase.READY.value, FileReplicaPhase.DEGRADED.value):
        return FileReplicaPhase.DEGRADED.value
    if status == "deleting":
        return FileReplicaPhase.DEGRADED.value if ready else FileReplicaPhase.PENDING.value
    started = ready > 0 or any(
        r.get("state") != "pending" or r.get("attempts") or r.get("drive_file_id")
        for r in file.get("replicas", [])
    )
    return (FileReplicaPhase.REPLICATING if started else FileReplicaPhase.PENDING).value


def replica_status(
    file: Mapping[str, Any],
    *,
    account_names: Mapping[str, str],
    eligible_accounts: int,
    generation: int,
    placement: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    decision: Decision | None = None,
) -> dict[str, Any]:
    """The status for ``file`` as the Uploader shows it.

    ``account_names`` maps Uploader account ids to DriveAccount names (other accounts show
    their id); ``eligible_accounts`` is how many accounts "every account" means now;
    ``decision`` is the demand-driven placement's last word on the file, if it has one.
    """
    current = current or {}
    replicas = sorted(
        (
            {
                "account": account_names.get(r["account_id"], r["account_id"]),
                "state": r["state"],
                **({"driveFileId": r["drive_file_id"]} if r.get("drive_file_id") else {}),
            }
            for r in file.get("replicas", [])
        ),
        key=lambda r: r["account"],
    )
    ready = sum(1 for r in replicas if r["state"] == "ready")
    wanted = file.get("desired_replicas")
    desired = int(wanted) if wanted is not None else eligible_accounts
    new_phase = phase(file, ready, desired, current.get("phase"))
    if new_phase == FileReplicaPhase.READY.value:
        ready_cond = condition("Ready", True, "Replicated", f"{ready} of {desired} replicas ready")
    elif new_phase == FileReplicaPhase.FAILED.value:
        reason = file.get("failure_reason") or "replication failed"
        ready_cond = condition("Ready", False, "ReplicationFailed", str(reason))
    elif file.get("status") == "deleting":
        ready_cond = condition("Ready", False, "Deleting", "the file is being removed from Drive")
    else:
        ready_cond = condition("Ready", False, new_phase, f"{ready} of {desired} replicas ready")
    conditions = merge(current.get("conditions"), ready_cond)
    if is_demand_driven(placement):
        applied = decision is not None and decision.replicas == wanted
        if decision is not None:
            placed = decision.replicas is not None
            conditions = merge(
                conditions, condition("Placed", placed, decision.reason, decision.message)
            )
    else:
        applied = desired_replicas(placement) == wanted
        conditions = [c for c in conditions if c["type"] != "Placed"]
    status: dict[str, Any] = {
        "phase": new_phase,
        "desiredReplicas": desired,
        "readyReplicas": ready,
        "replicas": replicas,
        "conditions": conditions,
    }
    if applied:
        status["observedGeneration"] = generation
    elif "observedGeneration" in current:
        status["observedGeneration"] = current["observedGeneration"]
    return status


def status_changed(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether writing ``new`` would change anything but timestamps."""
    current = current or {}

    def essence(s: Mapping[str, Any]) -> Any:
        conds = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in s.get("conditions", [])
        ]
        return {**{k: v for k, v in s.items() if k != "conditions"}, "conditions": conds}

    keys = (
        "phase",
        "desiredReplicas",
        "readyReplicas",
        "replicas",
        "conditions",
        "observedGeneration",
    )
    before = essence({k: current.get(k) for k in keys if k in current})
    return bool(essence({k: new.get(k) for k in keys if k in new}) != before)
