"""The Uploader's documents: accounts, files with their replicas, resumable upload sessions.

Accounts and files are aggregates that the Downloader mirrors. FerretDB has no multi-document
transactions, so each aggregate document is its own outbox: every change is one single-document
update that also increments ``seq`` and sets ``dirty``; the relay sends the document's current
state with that ``seq`` and clears ``dirty`` only if ``seq`` has not moved meanwhile. Deleted
aggregates stay as tombstones (``deleted``) until their last event is acknowledged.

Replicas live inside their file, keyed by account id, so a job can change one replica with a
dotted ``$set`` (``replicas.<account>.state``) without reading and rewriting the others.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from beanie import Document
from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, IndexModel

from services.shared.days import utcnow
from services.shared.events import FileStatus, ReplicaState


def new_id() -> str:
    """A fresh aggregate id: 32 hex digits, safe as a Mongo field name and in URLs."""
    return uuid.uuid4().hex


class AccountHealth(StrEnum):
    """What the last Drive operations said about an account."""

    OK = "ok"
    AUTH_FAILED = "auth_failed"
    STORAGE_FULL = "storage_full"


class Outboxed(Document):
    """Fields every mirrored aggregate carries for the outbox relay (no collection itself)."""

    seq: int = 1
    dirty: bool = True
    acked_seq: int = 0
    deleted: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Account(Outboxed):
    """A Drive account of the pool; ``credentials`` is a Fernet token, never decrypted here."""

    id: str = Field(default_factory=new_id)  # type: ignore[assignment]
    email: str
    display_name: str = ""
    credentials_kind: str = Field(description="authorized_user, service_account, ...")
    credentials: str = Field(repr=False)
    daily_budget_bytes: int
    storage_limit_bytes: int | None = Field(
        default=None, description="what the pool owner says the account holds; None: no limit"
    )
    drive_storage_limit_bytes: int | None = Field(
        default=None, description="Drive's own limit, from the last check (about.storageQuota)"
    )
    enabled: bool = True
    draining: bool = False
    health: AccountHealth = AccountHealth.OK
    health_reason: str | None = None
    managed_by: str | None = Field(
        default=None, description="the manager (an operator) that alone may change or delete it"
    )

    @property
    def storage_room(self) -> int | None:
        """Bytes placement may put on the account: the lower of both limits (None: no limit)."""
        limits = [x for x in (self.storage_limit_bytes, self.drive_storage_limit_bytes) if x]
        return min(limits) if limits else None

    class Settings:
        name = "accounts"


class Replica(BaseModel):
    """One copy of a file on one account."""

    model_config = ConfigDict(extra="ignore")

    account_id: str
    state: ReplicaState = ReplicaState.PENDING
    drive_file_id: str | None = None
    attempts: int = 0
    first_attempt_at: datetime | None = None
    error: str | None = None
    skip: bool = Field(
        default=False, description="failed because the account cannot hold it (quota, auth)"
    )
    removing_seq: int | None = Field(
        default=None,
        description="file seq at which the replica left the Downloader's choices; Drive "
        "deletion waits until the Downloader has acknowledged it",
    )
    updated_at: datetime = Field(default_factory=utcnow)


class StoredFile(Outboxed):
    """A file: its metadata, where its bytes are staged, and its replicas."""

    id: str = Field(default_factory=new_id)  # type: ignore[assignment]
    name: str
    size: int
    content_type: str
    sha256: str | None = None
    md5: str | None = Field(default=None, description="Drive's checksum, once a replica exists")
    status: FileStatus = FileStatus.REPLICATING
    staging_id: ObjectId | None = Field(default=None, description="GridFS file of the bytes")
    replicas: dict[str, Replica] = Field(default_factory=dict)
    desired_replicas: int | None = Field(default=None, description="None: every account")
    failure_reason: str | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    class Settings:
        name = "files"


class UploadSession(Document):
    """A resumable client upload: bytes land as GridFS chunks of ``staging_id`` as they come."""

    id: str = Field(default_factory=new_id)  # type: ignore[assignment]
    name: str
    content_type: str
    size: int
    sha256: str | None = None
    chunk_bytes: int
    offset: int = 0
    staging_id: ObjectId = Field(default_factory=ObjectId)
    file_id: str | None = Field(default=None, description="set once the upload is finished")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    model_config = ConfigDict(arbitrary_types_allowed=True)

    class Settings:
        name = "upload_sessions"


class BatchEntry(BaseModel):
    """A staged file of a batch, as it will be registered."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    name: str
    size: int
    content_type: str
    sha256: str
    staging_id: ObjectId


class Batch(Document):
    """The commit record of an all-or-nothing batch: its files, all staged already.

    Inserting it is the batch's single atomic write; the files are registered from it, and a
    sweep finishes any batch whose registering was interrupted.
    """

    id: str = Field(default_factory=new_id)  # type: ignore[assignment]
    files: list[BatchEntry]
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "batches"


DOCUMENTS: list[type[Document]] = [Account, StoredFile, UploadSession, Batch]

# Created one by one by ``repository.init`` rather than declared in Beanie's ``Settings``:
# FerretDB 1.24 drops the connection when Beanie re-creates several existing indexes in one
# ``createIndexes`` command (the second process to start would fail).
INDEXES: dict[type[Document], list[IndexModel]] = {
    Account: [IndexModel([("email", ASCENDING)], unique=True), IndexModel([("dirty", ASCENDING)])],
    StoredFile: [
        IndexModel([("dirty", ASCENDING)]),
        IndexModel([("status", ASCENDING)]),
        IndexModel([("created_at", ASCENDING)]),
    ],
    UploadSession: [IndexModel([("expires_at", ASCENDING)])],
    Batch: [IndexModel([("created_at", ASCENDING)])],
}
