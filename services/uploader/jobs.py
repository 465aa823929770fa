"""Names and enqueueing of the Uploader's arq jobs, shared by the API and the worker.

Job ids are deterministic (``replicate:<file>:<account>``), so arq refuses a second copy of a
job that is already queued or running: the API, the relay and the periodic sweep may all ask
for the same work without doing it twice. Jobs keep no result, so an id is free again as soon
as its job ends.

Every job is asked for *after* the change it acts on is stored, and the worker's periodic sweep
resumes whatever is unfinished (files in progress, draining accounts, placement, the event
relay). So a job that cannot be queued (Redis away) is logged and counted, not raised: the
request that stored the change has succeeded, and the sweep queues the work once Redis is back.
"""

from __future__ import annotations

import logging

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from services.uploader.metrics import ENQUEUE_FAILURES

log = logging.getLogger(__name__)

RECONCILE_FILE = "reconcile_file"
REPLICATE = "replicate"
REMOVE_REPLICA = "remove_replica"
DRAIN_ACCOUNT = "drain_account"
BACKFILL_ACCOUNT = "backfill_account"
RELAY_EVENTS = "relay_events"


class Jobs:
    """Enqueues the Uploader's jobs on its queue, deduplicated by id."""

    def __init__(self, redis: ArqRedis, *, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def _enqueue(self, function: str, *args: str, job_id: str) -> None:
        try:
            await self.redis.enqueue_job(
                function, *args, _job_id=job_id, _queue_name=self.queue_name
            )
        except (RedisError, OSError) as exc:
            ENQUEUE_FAILURES.labels(function).inc()
            log.warning("could not queue %s (%s); the sweep will resume it", job_id, exc)

    async def reconcile_file(self, file_id: str) -> None:
        await self._enqueue(RECONCILE_FILE, file_id, job_id=f"{RECONCILE_FILE}:{file_id}")

    async def replicate(self, file_id: str, account_id: str) -> None:
        await self._enqueue(
            REPLICATE, file_id, account_id, job_id=f"{REPLICATE}:{file_id}:{account_id}"
        )

    async def remove_replica(self, file_id: str, account_id: str) -> None:
        await self._enqueue(
            REMOVE_REPLICA, file_id, account_id, job_id=f"{REMOVE_REPLICA}:{file_id}:{account_id}"
        )

    async def drain_account(self, account_id: str) -> None:
        await self._enqueue(DRAIN_ACCOUNT, account_id, job_id=f"{DRAIN_ACCOUNT}:{account_id}")

    async def backfill_account(self, account_id: str) -> None:
        await self._enqueue(BACKFILL_ACCOUNT, account_id, job_id=f"{BACKFILL_ACCOUNT}:{account_id}")

    async def relay(self) -> None:
        await self._enqueue(RELAY_EVENTS, job_id=RELAY_EVENTS)

    async def depth(self) -> int:
        """Jobs waiting in the queue (deferred ones included)."""
        return int(await self.redis.zcard(self.queue_name))
