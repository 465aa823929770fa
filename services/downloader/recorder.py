"""Durable stats events with group commit, and their delivery to the Stats queue.

A download request hands its issued URL to the recorder and waits. One writer task stores
everything that arrived while the previous batch was being written in a single transaction
(charging the leases and inserting the rows), handed to the writer in one call, and only
then releases the waiting requests: under load one transaction serves tens to hundreds of
requests, and no client ever holds a URL that is not in the database.

The rows of the group commits of a **stats window** (``stats_window_seconds``, or
``stats_batch_max`` rows) form one stats batch, queued for Stats once the window closes, with
the batch id as arq job id: at a few requests a second each commit holds one URL, and a Stats
job, a ``POST /internal/stats`` and its transaction per URL cost more than the URL itself
(measured: 2.7–8 ms of the Downloader's CPU per URL in the whole system under JMeter). The
window closes only between two commits, so a queued batch never grows. If queueing fails
(Redis down, process killed before the window closed), the relay finds the batch still
unapplied after ``relay_after_seconds`` and queues it again, so every stored URL reaches the
statistics, at least once in delivery and exactly once in effect (batch ids); a commit joins a
batch only while it is younger than half that (:class:`repository.StatsBatchTarget`), so the
relay never reads a batch that can still grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.downloader import metrics, repository
from services.downloader.config import Settings
from services.downloader.repository import IssueRow, StatsBatchTarget
from services.downloader.writer import Writer
from services.shared.ids import TimeOrderedIds
from services.shared.stats import PROCESS_BATCH_JOB, STATS_QUEUE, IssueBatch, IssuedUrl

log = logging.getLogger(__name__)

_batch_ids = TimeOrderedIds(per_draw=64)


class LeaseLost(Exception):
    """A lease this URL was charged to was closed before the charge was stored, or the URL's
    share of it did not fit any more; ``lost`` are the leases that refused."""

    def __init__(self, lost: frozenset[uuid.UUID]) -> None:
        super().__init__(", ".join(sorted(str(lease) for lease in lost)))
        self.lost = lost


class RecordFailed(Exception):
    """The batch holding this URL could not be stored; the URL must not be handed out."""


@dataclass(slots=True)
class _Window:
    """The stats batch being filled: its id, when it opened (loop time), what it holds."""

    batch_id: uuid.UUID
    opened: float
    created: bool = False  # its stats_batches row exists (a commit stored rows in it)
    issued: list[IssuedUrl] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class IssueRecorder:
    """Group commit of issued URLs, then queueing for Stats."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        writer: Writer,
        queue: ArqRedis | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._writer = writer
        self._queue = queue
        self._clock = clock
        self._pending: list[tuple[IssueRow, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[bool]] = set()
        self._window: _Window | None = None
        self._max_age = timedelta(seconds=settings.relay_after_seconds / 2)

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._write_loop(), name="issue-recorder")

    async def stop(self) -> None:
        """Store what is pending, queue the open window, finish queueing, stop the writer."""
        while self._pending:
            await self._flush()
        self._close_window()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def record(self, row: IssueRow) -> None:
        """Return once ``row`` is stored; raise :class:`LeaseLost` or :class:`RecordFailed`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._wakeup.set()
        await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._flush()
            self._close_window(only_if_due=True)

    def _open_window(self) -> _Window:
        """The window the next commit joins (closing the current one first if it is due)."""
        self._close_window(only_if_due=True)
        if self._window is None:
            loop = asyncio.get_running_loop()
            self._window = _Window(_batch_ids.next(), loop.time())
        return self._window

    def _close_window(self, *, only_if_due: bool = False) -> None:
        """Queue the open window's batch for Stats (only between commits: it never grows)."""
        window = self._window
        if window is None:
            return
        if only_if_due:
            age = asyncio.get_running_loop().time() - window.opened
            if age < self._settings.stats_window_seconds and len(window.issued) < (
                self._settings.stats_batch_max
            ):
                if window.issued and window.timer is None:  # wake the loop when it is due
                    window.timer = asyncio.get_running_loop().call_later(
                        self._settings.stats_window_seconds - age, self._wakeup.set
                    )
                return
        self._window = None
        if window.timer is not None:
            window.timer.cancel()
        if window.issued and self._queue is not None:
            task = asyncio.create_task(self._enqueue(window.batch_id, window.issued))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _flush(self) -> None:
        limit = self._settings.record_batch_max
        batch, self._pending = self._pending[:limit], self._pending[limit:]
        window = self._open_window()
        target = StatsBatchTarget(
            batch_id=window.batch_id,
            append=window.created,
            spare_id=_batch_ids.next(),
            max_age=self._max_age,
        )
        rows = [row for row, _ in batch]
        store = partial(repository.store_issues, target=target, clock=self._clock, rows=rows)
        try:
            accepted, batch_id = await self._writer.run(store)
        except Exception as exc:
            log.exception("could not store a batch of %d issued URLs", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(RecordFailed(str(exc)))
            return
        metrics.COMMIT_BATCH.observe(len(batch))
        stored = []
        for row, future in batch:
            leases = (row.replica_lease_id, row.lease_id)
            lost = frozenset(lease for lease in leases if lease and lease not in accepted)
            if not lost:
                stored.append(row.issued)
                if not future.done():
                    future.set_result(None)
            elif not future.done():
                future.set_exception(LeaseLost(lost))
        if not stored:
            return
        if batch_id != window.batch_id:  # the window was too old to join: a new one began
            self._close_window()
            window = self._window = _Window(batch_id, asyncio.get_running_loop().time())
        window.created = True
        window.issued.extend(stored)
        self._close_window(only_if_due=True)

    async def _enqueue(self, batch_id: uuid.UUID, issued: list[IssuedUrl]) -> bool:
        """Queue one batch for Stats; ``False`` if it failed or the job is already queued."""
        assert self._queue is not None
        payload = IssueBatch(batch_id=batch_id, issued=tuple(issued)).model_dump(mode="json")
        try:
            job = await self._queue.enqueue_job(
                PROCESS_BATCH_JOB, payload, _job_id=str(batch_id), _queue_name=STATS_QUEUE
            )
        except Exception:  # the relay queues it again later
            log.warning("could not queue stats batch %s; the relay will retry", batch_id)
            metrics.STATS_ENQUEUE_FAILURES.inc()
            return False
        return job is not None

    async def relay(self, now: datetime) -> int:
        """Queue again the batches Stats has not applied in time; how many were queued."""
        if self._queue is None:
            return 0
        before = now - timedelta(seconds=self._settings.relay_after_seconds)
        async with self._sessions() as session:
            waiting = await repository.unapplied_batches(session, created_before=before, limit=100)
        queued = 0
        for batch_id in waiting:
            # Still queued or being processed (Stats keeps no job results, so the key lives just
            # that long): arq would refuse it again, and with Stats down for a while, reading
            # the rows of 100 batches every round cost more CPU than serving downloads.
            if await self._queue.exists(job_key_prefix + str(batch_id)):
                continue
            async with self._sessions() as session:
                issued = await repository.batch_issues(session, batch_id)
            # The same job id: arq refuses a duplicate while the first is queued or running.
            if issued and await self._enqueue(batch_id, issued):
                queued += 1
                metrics.STATS_BATCHES_RELAYED.inc()
        return queued
