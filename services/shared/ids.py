"""Time-ordered UUIDs (version 7, RFC 9562) for rows written at a high rate.

A random (version 4) primary key lands each new row on a random leaf of the key's index, so a
group commit of 30 rows dirties some 30 index pages and the index outgrows the page cache.
Measured for the Downloader's ``issued_urls`` (docs/performance.md): its writer's whole cost
was 49–59 µs of CPU per row (``store_issues`` on SQLite, batches of about 32), of which the key
order explains 25 → 15.6 µs per row (plain ``sqlite3``, 32-row commits, version 4 → version 7
ids). A version 7 id starts with the time in milliseconds, so new rows go to the right edge of
the index, like an auto-increment key, while ids stay unguessable and unique across processes
without coordination.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


class TimeOrderedIds:
    """Version 7 UUIDs whose 74 random bits are cut from one ``os.urandom`` call per
    ``per_draw`` ids (a system call per id costs more than the rest of its making)."""

    def __init__(self, per_draw: int = 1024) -> None:
        self._per_draw = per_draw
        self._pool = b""
        self._at = 0

    def next(self) -> uuid.UUID:
        """A new id: the current Unix time in milliseconds, then random bits."""
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(10 * self._per_draw), 0
        rand = int.from_bytes(self._pool[self._at : self._at + 10], "big")
        self._at += 10
        millis = time.time_ns() // 1_000_000
        value = (
            (millis & ((1 << 48) - 1)) << 80
            | _VERSION_7
            | ((rand >> 62) & _RAND_A) << 64
            | _VARIANT
            | (rand & _RAND_B)
        )
        return uuid.UUID(int=value)
