"""Per-document write locks in Redis, because the Mongo-wire server does not isolate writes.

FerretDB 1.24 (SQLite backend) applies an update by reading the document, changing it and
writing it back without any guard: concurrent updates of one document are lost, conditional
ones included (50 concurrent ``$inc`` leave the counter near 12, 40 compare-and-set loops all
"succeed"). The outbox and the replica bookkeeping rely on single-document atomicity, so every
write to an account, a file or an upload session takes that document's lock first; writers in
every API and worker process share it through Redis. Reads take no lock.

The lock expires after :data:`LOCK_TTL` seconds, so a process killed while holding one blocks
that document's writers for at most that long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

LOCK_TTL = 30.0
LOCK_WAIT = 60.0


class DocumentLocks:
    """Mutual exclusion of writers per (collection, document id)."""

    def __init__(self, redis: Redis, *, prefix: str = "fileserver:uploader:lock") -> None:
        self.redis = redis
        self.prefix = prefix

    @asynccontextmanager
    async def hold(self, collection: str, doc_id: str) -> AsyncIterator[None]:
        """Hold the document's lock for the duration of the block."""
        lock = self.redis.lock(
            f"{self.prefix}:{collection}:{doc_id}",
            timeout=LOCK_TTL,
            blocking_timeout=LOCK_WAIT,
            sleep=0.005,
        )
        async with lock:
            yield
