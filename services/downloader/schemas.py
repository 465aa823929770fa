"""Request and response bodies of the Downloader's API (the tables are in ``models``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from services.shared.events import AccountState, FileState

T = TypeVar("T")

MB = 1_000_000


class DownloadTicket(BaseModel):
    """A download URL and what it was charged: the answer of ``GET /files/{id}/download``."""

    id: uuid.UUID = Field(description="id of this issued URL in the statistics")
    url: str
    file_id: str
    account_id: str
    offset: int
    length: int
    charged_bytes: int
    range: str | None = Field(description="Range header to send with the URL (partial reads)")
    day: date = Field(description="budget day the bytes were charged to")
    expires_at: datetime = Field(description="end of that budget day")


class FileFigures(BaseModel):
    """Precomputed figures of one file (item 12)."""

    id: str
    name: str
    size: int
    status: str
    downloads: int
    downloads_today: int
    bytes_today: int
    bytes_total: int
    mb_today: float
    mb_total: float


class AccountFigures(BaseModel):
    """Precomputed figures of one account (item 13), with its budget left today."""

    id: str
    email: str
    enabled: bool
    daily_budget_bytes: int
    downloads: int
    downloads_today: int
    bytes_today: int
    bytes_total: int
    mb_today: float
    mb_total: float
    issued_today: int = Field(description="bytes of URLs issued today (real time)")
    remaining_today: int = Field(description="daily budget not yet issued today")


class Report(BaseModel, Generic[T]):
    """One page of a report."""

    day: date
    total: int
    limit: int | None
    offset: int
    sort: str
    items: list[T]


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class CatalogKind(StrEnum):
    ACCOUNT = "account"
    FILE = "file"


class CatalogEntry(BaseModel):
    """An aggregate as stored here and the sequence number of the event that set it."""

    seq: int
    state: AccountState | FileState


class CatalogPage(BaseModel):
    """A page of the catalog in id order; ``next_after`` continues it (``None``: the end)."""

    items: list[CatalogEntry]
    next_after: str | None


def with_mb(row: dict[str, object]) -> dict[str, object]:
    """Add the MB (10^6 bytes) figures the specification asks for to a report row."""
    out = dict(row)
    out["mb_today"] = round(int(row["bytes_today"]) / MB, 3)  # type: ignore[call-overload]
    out["mb_total"] = round(int(row["bytes_total"]) / MB, 3)  # type: ignore[call-overload]
    return out
