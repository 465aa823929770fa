"""What the Uploader's API accepts and answers, apart from the stored documents.

Credentials are write-only: they appear in the Create and Update schemas (hidden from ``repr``)
and in no Read schema. Names are checked here once (length, no path separators, no control
characters) so that every entry point (plain upload, resumable session, batch) applies the same
rule.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.shared.events import FileStatus, ReplicaState
from services.uploader.models import Account, AccountHealth, StoredFile, UploadSession

DEFAULT_DAILY_BUDGET = 100 * 10**9
MANAGER_HEADER = "X-Fileserver-Manager"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def check_file_name(name: str) -> str:
    """A file name usable on Drive and in a download's Content-Disposition."""
    if not 1 <= len(name) <= 255:
        raise ValueError("name must have 1 to 255 characters")
    if "/" in name or "\\" in name:
        raise ValueError("name must not contain path separators ('/' or '\\')")
    if any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} for c in name):
        raise ValueError("name must not contain control characters")
    if name.strip() in {"", ".", ".."} or name != name.strip():
        raise ValueError("name must not be blank, '.', '..' or start/end with spaces")
    return name


def check_content_type(value: str) -> str:
    """A bare ``type/subtype`` media type (parameters such as charset are dropped)."""
    media = value.split(";", 1)[0].strip().lower()
    if not _CONTENT_TYPE.match(media):
        raise ValueError("content type must look like 'type/subtype', e.g. 'video/mp4'")
    return media


FileName = Annotated[str, AfterValidator(check_file_name)]
ContentType = Annotated[str, AfterValidator(check_content_type)]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=320)]
DisplayName = Annotated[str, Field(max_length=200)]
Manager = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$",
        description="who manages the account, e.g. 'fileserver-operator'; only requests with "
        f"the header {MANAGER_HEADER!r} set to it may change or delete the account",
    ),
]
CREDENTIALS_DOC = "service-account key JSON or OAuth authorized_user JSON; write-only"
STORAGE_DOC = (
    "bytes of Drive storage placement may use on the account (Drive's own limit, once checked, "
    "also applies); never below what the account holds"
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Input):
    email: Email
    display_name: DisplayName = ""
    credentials: dict[str, Any] = Field(repr=False, description=CREDENTIALS_DOC)
    daily_budget_bytes: int = Field(default=DEFAULT_DAILY_BUDGET, ge=0)
    storage_limit_bytes: int | None = Field(default=None, ge=1, description=STORAGE_DOC)
    enabled: bool = True
    managed_by: Manager | None = None


class AccountUpdate(_Input):
    email: Email | None = None
    display_name: DisplayName | None = None
    credentials: dict[str, Any] | None = Field(
        default=None, repr=False, description=CREDENTIALS_DOC
    )
    daily_budget_bytes: int | None = Field(default=None, ge=0)
    storage_limit_bytes: int | None = Field(
        default=None, ge=1, description=STORAGE_DOC + "; null removes the limit"
    )
    enabled: bool | None = None
    managed_by: Manager | None = Field(
        default=None, description="hand the account to a manager, or null to release it"
    )


class AccountRead(BaseModel):
    """An account as the API shows it: never its credentials."""

    id: str
    email: str
    display_name: str
    credentials_kind: str
    daily_budget_bytes: int
    storage_limit_bytes: int | None
    drive_storage_limit_bytes: int | None = Field(description="Drive's, from the last check")
    enabled: bool
    draining: bool
    health: AccountHealth
    health_reason: str | None
    managed_by: str | None
    replicas: int = Field(description="files with a ready replica on the account")
    stored_bytes: int = Field(
        description="bytes of the replicas it holds or is getting (placement's count)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account, *, replicas: int, stored_bytes: int) -> AccountRead:
        return cls.model_validate(
            {
                **account.model_dump(exclude={"credentials"}),
                "replicas": replicas,
                "stored_bytes": stored_bytes,
            }
        )


class AccountCheck(BaseModel):
    """What one cheap Drive call with the account's stored credentials said."""

    ok: bool = Field(description="Drive accepted the credentials")
    reason: str | None = Field(description="why not, when ok is false")
    storage_used_bytes: int | None
    storage_limit_bytes: int | None = Field(description="null: unlimited (or not checked)")


class ReplicaRead(BaseModel):
    account_id: str
    state: ReplicaState
    drive_file_id: str | None
    attempts: int
    error: str | None
    updated_at: datetime


class FileUpdate(_Input):
    name: FileName | None = None
    content_type: ContentType | None = None
    desired_replicas: int | None = Field(
        default=None, ge=1, description="how many accounts should hold the file; unset: all"
    )


class FileSort(StrEnum):
    """Orders of ``GET /files``."""

    NEWEST = "-created_at"
    UPDATED = "updated_at"


class FileCursor(BaseModel):
    """Where a page of ``GET /files`` ended: the last file's sort key and id (keyset paging).

    The next page is the files after that key in the same order, found without ``skip`` or
    ``count``; the key travels as opaque text so its shape can change.
    """

    sort: FileSort
    key: datetime
    id: str

    def encode(self) -> str:
        raw = f"{self.sort.value}|{self.key.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> FileCursor:
        """The cursor ``encode`` made; ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            sort, key, file_id = raw.split("|")
            return cls(sort=FileSort(sort), key=datetime.fromisoformat(key), id=file_id)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a cursor of GET /files: {text[:40]!r}") from exc

    @classmethod
    def after(cls, file: StoredFile, sort: FileSort) -> FileCursor:
        key = file.updated_at if sort == FileSort.UPDATED else file.created_at
        return cls(sort=sort, key=key, id=file.id)


class FileRead(BaseModel):
    id: str
    name: str
    size: int
    content_type: str
    sha256: str | None
    status: FileStatus
    replicas: list[ReplicaRead]
    desired_replicas: int | None
    failure_reason: str | None
    staged: bool = Field(description="whether the bytes are still held in GridFS")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, file: StoredFile) -> FileRead:
        data = file.model_dump(exclude={"replicas", "staging_id"})
        replicas = [r.model_dump() for _, r in sorted(file.replicas.items())]
        return cls.model_validate(
            {**data, "replicas": replicas, "staged": file.staging_id is not None}
        )


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    offset: int
    limit: int


class FilePage(BaseModel):
    """One page of ``GET /files``: ``next`` continues it, at the cost of one scan per page."""

    items: list[FileRead]
    total: int | None = Field(description="files matching the filters; null when count=false")
    offset: int
    limit: int
    next: str | None = Field(
        description="cursor for the page after this one (pass it as `after`); null on the last"
    )


class UploadSessionCreate(_Input):
    name: FileName
    size: int = Field(ge=1, description="total bytes the client will send")
    content_type: ContentType = DEFAULT_CONTENT_TYPE
    sha256: Sha256 | None = Field(default=None, description="checked when the upload finishes")


class UploadSessionRead(BaseModel):
    id: str
    name: str
    size: int
    content_type: str
    offset: int = Field(description="bytes received and stored; the next range starts here")
    chunk_bytes: int = Field(description="every range but the last is a multiple of this")
    expires_at: datetime
    file_id: str | None

    @classmethod
    def of(cls, session: UploadSession) -> UploadSessionRead:
        return cls.model_validate(session.model_dump())


class BatchRead(BaseModel):
    files: list[FileRead]
