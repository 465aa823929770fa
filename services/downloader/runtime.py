"""Everything one Downloader process keeps alive between requests, started and stopped with it.

The engine, the in-memory catalog, the budget ledger, the balancer, the group-commit recorder,
the connection to the stats queue, a clock (replaceable in tests: rollover is tested by moving
it) and the background loop that refreshes the catalog, renews and reclaims leases and relays
stats batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.downloader import metrics, repository
from services.downloader.balancing import Balancer
from services.downloader.catalog import Catalog
from services.downloader.config import Settings
from services.downloader.db import make_engine, make_sessionmaker, migrate_async
from services.downloader.leases import BudgetLedger
from services.downloader.recorder import IssueRecorder
from services.downloader.writer import Writer
from services.drive.config import DriveSettings
from services.drive.urls import check_url_settings, download_url
from services.shared.days import budget_day, day_start, next_rollover, utcnow

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The live parts of one Downloader process."""

    settings: Settings
    drive: DriveSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    writer: Writer
    catalog: Catalog
    ledger: BudgetLedger
    replica_ledger: BudgetLedger
    balancer: Balancer
    recorder: IssueRecorder
    queue: ArqRedis | None
    clock: Callable[[], datetime] = utcnow
    _loop: asyncio.Task[None] | None = field(default=None, repr=False)
    _span: tuple[date, datetime, datetime] | None = field(default=None, repr=False)

    def today(self, now: datetime | None = None) -> date:
        """The current budget day."""
        return self.budget_span(now or self.clock())[0]

    def budget_span(self, now: datetime) -> tuple[date, datetime]:
        """The budget day of ``now`` and when it ends: worked out once a day, then two
        comparisons (every download asks)."""
        span = self._span
        if span is None or not span[1] <= now < span[2]:
            rollover = self.settings.rollover_utc
            day = budget_day(now, rollover)
            span = self._span = (day, day_start(day, rollover), next_rollover(now, rollover))
        return span[0], span[2]

    async def start_day(self, day: date) -> None:
        """Seed balancing with what every process has issued on ``day`` so far."""
        async with self.sessions() as session:
            issued = await repository.issued_by_account(session, day)
        self.balancer.start_day(day, issued)

    async def maintain(self) -> None:
        """One round of background upkeep."""
        now = self.clock()
        day = self.today(now)
        if self.balancer.day != day:
            await self.start_day(day)
        await self.catalog.refresh()
        await self.ledger.maintain(day=day, now=now)
        await self.replica_ledger.maintain(day=day, now=now)
        await self.writer.checkpoint()
        async with self.sessions() as session:
            issued = await repository.issued_by_account(session, day)
        for account in self.catalog.accounts.values():
            left = account.daily_budget_bytes - issued.get(account.id, 0)
            metrics.BUDGET_REMAINING.labels(account.id).set(max(left, 0) if account.servable else 0)

    async def _background(self) -> None:
        last_relay = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.maintenance_interval_seconds)
            try:
                await self.maintain()
                if time.monotonic() - last_relay >= self.settings.relay_interval_seconds:
                    last_relay = time.monotonic()
                    await self.recorder.relay(self.clock())
            except Exception:  # keep the loop alive through a database or Redis outage
                log.exception("downloader maintenance failed; retrying")

    async def start(self) -> None:
        """Load the catalog and start the writer and the background loop."""
        self.writer.start()
        await self.catalog.refresh()
        await self.start_day(self.today())
        self.recorder.start()
        self._loop = asyncio.create_task(self._background(), name="downloader-maintenance")

    async def stop(self) -> None:
        """Flush pending URLs, return leases, close connections."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await self.recorder.stop()
        await self.ledger.close_all()
        await self.replica_ledger.close_all()
        await self.writer.stop()
        if self.queue is not None:
            await self.queue.aclose()
        await self.engine.dispose()


async def build_runtime(
    settings: Settings, drive: DriveSettings, *, clock: Callable[[], datetime] = utcnow
) -> Runtime:
    """Migrate if configured, connect to the database and the queue, wire the parts."""
    check_url_settings(drive)  # refuse to start rather than hand out broken links
    if settings.migrate_on_startup:
        await migrate_async(settings)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    writer = Writer(settings)
    queue = (
        await create_pool(RedisSettings.from_dsn(settings.redis_url))
        if settings.redis_url
        else None
    )
    return Runtime(
        settings=settings,
        drive=drive,
        engine=engine,
        sessions=sessions,
        writer=writer,
        catalog=Catalog(sessions, lambda drive_id, size: download_url(drive, drive_id, size)),
        ledger=BudgetLedger(settings, sessions, writer),
        replica_ledger=BudgetLedger(settings, sessions, writer, gauged=False),
        balancer=Balancer(),
        recorder=IssueRecorder(settings, sessions, writer, queue, clock),
        queue=queue,
        clock=clock,
    )
