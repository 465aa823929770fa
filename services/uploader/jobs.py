"""Names and enqueueing of the Uploader's arq jobs, shared by the API and the worker.

Job ids are deterministic (``replicate:<file>:<account>``), so arq refuses a second copy of a
job that is already queued or running: the API, the relay and the periodic sweep may all ask
for the same work without doing it twice. Jobs keep no result, so an id is free again as soon
as its job ends.

Two queues, so that background work never delays a new file: the *urgent* one (the queue's
name) holds what makes new files downloadable (their first replica and its copies, reconciles,
the relay); the *background* one (``<name>:background``) what can wait: copies of files that
are served already (backfill, placement grown), replica removals, draining and backfill passes.
The worker serves each with slots of its own (``worker_max_jobs`` and
``worker_background_jobs``). A job id is the same on either queue, so deduplication holds.

Every job is asked for *after* the change it acts on is stored, and the worker's periodic sweep
resumes whatever is unfinished (files in progress, draining accounts, placement, the event
relay). So a job that cannot be queued (Redis away) is logged and counted, not raised: the
request that stored the change has succeeded, and the sweep queues the work once Redis is back.
"""

from __future__ import annotations

import logging

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from redis.exceptions import RedisError

from services.uploader.metrics import ENQUEUE_FAILURES

log = logging.getLogger(__name__)

RECONCILE_FILE = "reconcile_file"
REPLICATE = "replicate"
REMOVE_REPLICA = "remove_replica"
DRAIN_ACCOUNT = "drain_account"
BACKFILL_ACCOUNT = "backfill_account"
RELEASE_ACCOUNT = "release_account"
RELAY_EVENTS = "relay_events"


def background_queue(queue_name: str) -> str:
    """The name of the background queue beside the urgent one ``queue_name``."""
    return f"{queue_name}:background"


class Jobs:
    """Enqueues the Uploader's jobs on its two queues, deduplicated by id."""

    def __init__(self, redis: ArqRedis, *, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.background_queue = background_queue(queue_name)

    async def _enqueue(
        self, function: str, *args: str, job_id: str, background: bool = False
    ) -> None:
        queue = self.background_queue if background else self.queue_name
        try:
            await self.redis.enqueue_job(function, *args, _job_id=job_id, _queue_name=queue)
        except (RedisError, OSError) as exc:
            ENQUEUE_FAILURES.labels(function).inc()
            log.warning("could not queue %s (%s); the sweep will resume it", job_id, exc)

    async def reconcile_file(self, file_id: str) -> None:
        await self._enqueue(RECONCILE_FILE, file_id, job_id=f"{RECONCILE_FILE}:{file_id}")

    async def replicate(self, file_id: str, account_id: str, *, background: bool) -> None:
        """A replica of a file still ``replicating`` is urgent; one of a served file is not."""
        await self._enqueue(
            REPLICATE,
            file_id,
            account_id,
            job_id=f"{REPLICATE}:{file_id}:{account_id}",
            background=background,
        )

    async def remove_replica(self, file_id: str, account_id: str) -> None:
        await self._enqueue(
            REMOVE_REPLICA,
            file_id,
            account_id,
            job_id=f"{REMOVE_REPLICA}:{file_id}:{account_id}",
            background=True,
        )

    async def drain_account(self, account_id: str) -> None:
        await self._enqueue(
            DRAIN_ACCOUNT, account_id, job_id=f"{DRAIN_ACCOUNT}:{account_id}", background=True
        )

    async def backfill_account(self, account_id: str) -> None:
        await self._enqueue(
            BACKFILL_ACCOUNT,
            account_id,
            job_id=f"{BACKFILL_ACCOUNT}:{account_id}",
            background=True,
        )

    async def release_account(self, account_id: str) -> None:
        """Urgent: the files it was to hold wait for another account meanwhile."""
        await self._enqueue(RELEASE_ACCOUNT, account_id, job_id=f"{RELEASE_ACCOUNT}:{account_id}")

    async def cancel_account(self, account_id: str) -> int:
        """Drop the copies to ``account_id`` still waiting in either queue; how many.

        A job being run is left alone (it finds the account disabled and replans its file);
        the files' entries are cleared by :data:`RELEASE_ACCOUNT`. The job's key goes with its
        queue entry, so the same copy can be queued again if the account comes back.
        """
        suffix = f":{account_id}".encode()
        cancelled = 0
        try:
            for queue in (self.queue_name, self.background_queue):
                waiting = await self.redis.zrange(queue, 0, -1)
                doomed = [
                    job for job in waiting if job.startswith(b"replicate:") and job.endswith(suffix)
                ]
                if not doomed:
                    continue
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.zrem(queue, *doomed)
                    pipe.delete(*(job_key_prefix.encode() + job for job in doomed))
                    await pipe.execute()
                cancelled += len(doomed)
        except (RedisError, OSError) as exc:
            log.warning("could not cancel the queued copies to %s (%s)", account_id, exc)
        return cancelled

    async def relay(self) -> None:
        await self._enqueue(RELAY_EVENTS, job_id=RELAY_EVENTS)

    async def depth(self) -> int:
        """Jobs waiting in both queues (deferred ones included)."""
        return sum(await self.depths())

    async def depths(self) -> tuple[int, int]:
        """Jobs waiting in the urgent and in the background queue (deferred ones included)."""
        return (
            int(await self.redis.zcard(self.queue_name)),
            int(await self.redis.zcard(self.background_queue)),
        )
