"""Events from the Uploader to the Downloader: the only way the Downloader learns the catalog.

Each event carries the whole current state of one aggregate (an account or a file with its
replicas) and that aggregate's sequence number. A consumer applies an event only when its
sequence number is above the one it has stored for the aggregate, so delivery may be
duplicated or reordered (at-least-once, through the Uploader's outbox) while the effect is
exactly-once and the final state is the newest one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class FileStatus(StrEnum):
    """Lifecycle of a file in the Uploader (specification items 8 and 9)."""

    REPLICATING = "replicating"
    UPLOADED = "uploaded"
    FAILED = "failed"
    DELETING = "deleting"


class ReplicaState(StrEnum):
    """Lifecycle of one copy of a file on one Drive account."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    REMOVING = "removing"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReplicaInfo(_Frozen):
    account_id: str = Field(min_length=1, max_length=64)
    drive_file_id: str | None = Field(default=None, max_length=256)
    state: ReplicaState


class AccountState(_Frozen):
    """An account as the Downloader needs it: never its credentials."""

    kind: Literal["account"] = "account"
    id: str = Field(min_length=1, max_length=64)
    email: str = Field(max_length=320)
    daily_budget_bytes: int = Field(ge=0)
    enabled: bool
    deleted: bool = False


class FileState(_Frozen):
    """A file and every replica it has, as the Downloader needs them."""

    kind: Literal["file"] = "file"
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)
    content_type: str = Field(max_length=255)
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    status: FileStatus
    replicas: tuple[ReplicaInfo, ...] = ()
    deleted: bool = False


class Event(_Frozen):
    """One state-transfer event; ``aggregate`` is ``account:<id>`` or ``file:<id>``."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    seq: int = Field(ge=1, description="Per-aggregate sequence number, strictly increasing.")
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    state: Annotated[AccountState | FileState, Field(discriminator="kind")]

    @property
    def aggregate(self) -> str:
        return f"{self.state.kind}:{self.state.id}"


class EventBatch(_Frozen):
    """Body of the Downloader's ``POST /internal/events``."""

    events: tuple[Event, ...] = Field(min_length=1, max_length=1000)


class EventBatchResult(_Frozen):
    """What the Downloader did with a batch: every event is acknowledged either way."""

    applied: int
    ignored: int
