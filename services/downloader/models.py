"""The Downloader's tables: the catalog it learns from events, budget leases, statistics.

Every datetime is timezone-aware UTC; SQLModel's column type stores and returns it so on both
PostgreSQL and SQLite. Counters are ``BIGINT``: a day of a large pool is tens of terabytes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel


def _big(**kwargs: object) -> Column[int]:
    return Column(BigInteger, nullable=False, **kwargs)  # type: ignore[arg-type]


class Account(SQLModel, table=True):
    """A Drive account as the Uploader last described it (a tombstone once deleted)."""

    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=64)
    email: str = Field(max_length=320)
    daily_budget_bytes: int = Field(sa_column=_big())
    enabled: bool
    deleted: bool = False
    seq: int = Field(sa_column=_big(), description="sequence number of the applied event")
    rev: int = Field(sa_column=_big(index=True), description="catalog revision of the change")


class File(SQLModel, table=True):
    """A file as the Uploader last described it (a tombstone once deleted)."""

    __tablename__ = "files"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    size: int = Field(sa_column=_big())
    content_type: str = Field(max_length=255)
    sha256: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    deleted: bool = False
    seq: int = Field(sa_column=_big())
    rev: int = Field(sa_column=_big(index=True))


class Replica(SQLModel, table=True):
    """One copy of a file on one account; replaced wholesale by each file event."""

    __tablename__ = "replicas"

    file_id: str = Field(primary_key=True, max_length=64, foreign_key="files.id")
    account_id: str = Field(primary_key=True, max_length=64)
    drive_file_id: str | None = Field(default=None, max_length=256)
    state: str = Field(max_length=16)


class CatalogRevision(SQLModel, table=True):
    """A single-row counter bumped by every applied event batch.

    Processes poll it to refresh their in-memory catalog; the row lock it takes also serialises
    concurrent event batches, so the per-aggregate sequence check cannot race.
    """

    __tablename__ = "catalog_revision"

    id: int = Field(default=1, primary_key=True)
    rev: int = Field(sa_column=_big())


class BudgetDay(SQLModel, table=True):
    """How much of one account's budget for one day has been leased out to processes."""

    __tablename__ = "budget_days"

    account_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    budget_bytes: int = Field(sa_column=_big())
    leased_bytes: int = Field(sa_column=_big())


class Lease(SQLModel, table=True):
    """A block of budget held by one process; ``used_bytes`` only grows while it is open.

    On close, ``granted_bytes - used_bytes`` goes back to the day's pool.
    """

    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_open_expiry", "closed", "expires_at"),)

    id: uuid.UUID = Field(primary_key=True)
    account_id: str = Field(max_length=64)
    day: date = Field(index=True)
    holder: str = Field(max_length=128)
    granted_bytes: int = Field(sa_column=_big())
    used_bytes: int = Field(sa_column=_big())
    expires_at: datetime
    active_at: datetime = Field(description="last grant or charge: when its holder last used it")
    closed: bool = False


class StatsBatchRecord(SQLModel, table=True):
    """One group commit of issued URLs; ``applied_at`` is set when Stats' increments land."""

    __tablename__ = "stats_batches"
    __table_args__ = (Index("ix_stats_batches_pending", "applied_at", "created_at"),)

    id: uuid.UUID = Field(primary_key=True)
    created_at: datetime
    applied_at: datetime | None = None


class IssuedUrlRecord(SQLModel, table=True):
    """Every URL ever issued: the durable source of the statistics and of lease usage."""

    __tablename__ = "issued_urls"

    id: uuid.UUID = Field(primary_key=True)
    batch_id: uuid.UUID = Field(index=True, foreign_key="stats_batches.id")
    file_id: str = Field(max_length=64)
    account_id: str = Field(max_length=64)
    lease_id: uuid.UUID | None = None
    day: date
    offset: int = Field(sa_column=_big())
    bytes: int = Field(sa_column=_big())
    issued_at: datetime


class FileStats(SQLModel, table=True):
    """All-time counters of one file."""

    __tablename__ = "file_stats"

    file_id: str = Field(primary_key=True, max_length=64)
    downloads: int = Field(sa_column=_big())
    bytes: int = Field(sa_column=_big())


class FileDayStats(SQLModel, table=True):
    """Counters of one file for one budget day ("today" is a lookup, never a reset)."""

    __tablename__ = "file_day_stats"

    file_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    downloads: int = Field(sa_column=_big())
    bytes: int = Field(sa_column=_big())


class AccountStats(SQLModel, table=True):
    """All-time counters of one account."""

    __tablename__ = "account_stats"

    account_id: str = Field(primary_key=True, max_length=64)
    downloads: int = Field(sa_column=_big())
    bytes: int = Field(sa_column=_big())


class AccountDayStats(SQLModel, table=True):
    """Counters of one account for one budget day."""

    __tablename__ = "account_day_stats"

    account_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    downloads: int = Field(sa_column=_big())
    bytes: int = Field(sa_column=_big())
