"""The computation Stats exists for: a batch of issued URLs → counter increments.

Pure and deterministic: the same batch always gives the same increments, which is what lets the
Downloader apply a batch id once however often it is delivered. Increments are keyed by the
budget day the Downloader charged (stamped on each event), so an event issued just before the
day boundary and processed just after it still counts for the day it belongs to.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from services.shared.stats import Increment, IssueBatch, StatsBatch


def aggregate(batch: IssueBatch) -> StatsBatch:
    """Per-file and per-account download counts and bytes, per budget day."""
    files: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    accounts: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for event in {e.id: e for e in batch.issued}.values():  # an id counts once
        for table, key in ((files, event.file_id), (accounts, event.account_id)):
            entry = table[(key, event.day)]
            entry[0] += 1
            entry[1] += event.bytes

    def increments(table: dict[tuple[str, date], list[int]]) -> tuple[Increment, ...]:
        return tuple(
            Increment(key=key, day=day, downloads=n, bytes=b)
            for (key, day), (n, b) in sorted(table.items())
        )

    return StatsBatch(
        batch_id=batch.batch_id,
        events=sum(n for n, _ in files.values()),
        files=increments(files),
        accounts=increments(accounts),
    )
