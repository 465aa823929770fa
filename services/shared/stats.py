"""The statistics pipeline's messages: Downloader → queue → Stats → Downloader.

Every URL the Downloader issues becomes an :class:`IssuedUrl`, stored in the Downloader's
database in a batch (group commit) before the response leaves; the batch then travels on the
``stats`` arq queue as an :class:`IssueBatch`. Stats turns a batch into per-file and per-account
increments, a :class:`StatsBatch` carrying the same ``batch_id``, and posts it to the
Downloader's ``POST /internal/stats``, which applies a batch id at most once. Redelivery (arq
retries, the Downloader's relay re-enqueueing a batch not yet applied) therefore never counts an
event twice, and a batch is never split or merged, so its increments are always the same.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

STATS_QUEUE = "stats"
"""Name of the arq queue the Downloader feeds and Stats consumes."""

PROCESS_BATCH_JOB = "process_issue_batch"
"""Name of the Stats job that handles one :class:`IssueBatch`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IssuedUrl(_Frozen):
    """One issued download URL: who served how many bytes of what, charged to which day."""

    id: uuid.UUID
    file_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    bytes: int = Field(ge=0)
    day: date
    issued_at: datetime


class IssueBatch(_Frozen):
    """The events of one group commit, as queued for Stats."""

    batch_id: uuid.UUID
    issued: tuple[IssuedUrl, ...] = Field(min_length=1)


class Increment(_Frozen):
    """What to add to one file's or one account's counters for one budget day."""

    key: str = Field(min_length=1, max_length=64)
    day: date
    downloads: int = Field(ge=0)
    bytes: int = Field(ge=0)


class StatsBatch(_Frozen):
    """Body of the Downloader's ``POST /internal/stats``: a batch's increments, applied once."""

    batch_id: uuid.UUID
    events: int = Field(ge=1, description="How many issued URLs the increments summarise.")
    files: tuple[Increment, ...]
    accounts: tuple[Increment, ...]


class StatsBatchResult(_Frozen):
    """Whether this delivery changed the counters (``False``: the batch was already applied)."""

    batch_id: uuid.UUID
    applied: bool
