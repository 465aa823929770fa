"""The FileReplica custom resource: one file of the catalog and where its copies must be."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import ConfigDict, Field

from apis.common import Condition, Model


class PlacementMode(StrEnum):
    ALL = "All"  # every enabled account (specification item 9)
    COUNT = "Count"  # a number of accounts, chosen by the operator


class Placement(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.mode != 'Count' || has(self.replicas)",
                    "message": "placement.replicas is required when placement.mode is Count",
                }
            ]
        }
    )

    mode: PlacementMode = PlacementMode.ALL
    replicas: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="How many accounts hold the file when mode is Count.",
    )
    demand_driven: bool = Field(
        default=False,
        description="Let the operator raise or lower the count with the file's daily demand.",
    )


class FileReplicaSpec(Model):
    """Written by the operator from the Uploader's catalog; placement may be edited by people."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.fileId == oldSelf.fileId",
                    "message": "fileId is immutable",
                }
            ]
        }
    )

    file_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    placement: Placement = Field(default_factory=Placement)


class FileReplicaPhase(StrEnum):
    PENDING = "Pending"
    REPLICATING = "Replicating"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class ReplicaStatus(Model):
    account: str = Field(description="DriveAccount name.")
    state: str = Field(description="pending, ready, failed or removing.")
    drive_file_id: str | None = None


class FileReplicaStatus(Model):
    observed_generation: int | None = Field(default=None, ge=0)
    phase: FileReplicaPhase | None = None
    desired_replicas: int | None = Field(default=None, ge=0)
    ready_replicas: int | None = Field(default=None, ge=0)
    replicas: list[ReplicaStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class FileReplica(Model):
    """A file of the catalog and the Drive accounts that must hold a copy of it."""

    KIND: ClassVar[str] = "FileReplica"
    PLURAL: ClassVar[str] = "filereplicas"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("fr", "frep")

    spec: FileReplicaSpec
    status: FileReplicaStatus | None = None
