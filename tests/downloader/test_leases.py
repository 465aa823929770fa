"""Leases of two processes on one database: a refused process reclaims a peer's idle lease, but
never one in use, and a reclaimed lease accepts no more charges (no overcommit)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from services.downloader import repository
from services.downloader.config import Settings
from services.downloader.db import make_engine, make_sessionmaker, migrate
from services.downloader.leases import BudgetLedger
from services.downloader.repository import IssueRow, StatsBatchTarget
from services.downloader.writer import Writer
from services.shared.stats import IssuedUrl
from tests.utils.downloader import MB

pytestmark = pytest.mark.integration

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = T0.date()
BUDGET = 10 * MB


@pytest.fixture
async def ledgers(
    any_db_settings: Settings,
) -> AsyncIterator[tuple[BudgetLedger, BudgetLedger, Writer]]:
    """Two processes' ledgers (distinct holders) on one database, sharing a writer here."""
    settings = any_db_settings.model_copy(
        update={
            "lease_block_bytes": 8 * MB,
            "lease_share": 1,
            "lease_reclaim_idle_seconds": 1.0,
            "exhausted_recheck_seconds": 0.0,  # ask the database every time
        }
    )
    await asyncio.to_thread(migrate, settings)
    engine = make_engine(settings)
    writer = Writer(settings)
    writer.start()
    sessions = make_sessionmaker(engine)
    try:
        yield (
            BudgetLedger(settings, sessions, writer),
            BudgetLedger(settings, sessions, writer),
            writer,
        )
    finally:
        await writer.stop()
        await engine.dispose()


async def _allocate(ledger: BudgetLedger, nbytes: int, at: datetime) -> uuid.UUID | None:
    return await ledger.allocate("acct", day=DAY, nbytes=nbytes, budget=BUDGET, now=at)


async def test_a_refused_process_reclaims_an_idle_peer_lease(
    ledgers: tuple[BudgetLedger, BudgetLedger, Writer],
) -> None:
    first, second, writer = ledgers
    held = await _allocate(first, 1 * MB, T0)  # leases 8 of the 10 MB
    assert held is not None
    # Still in use a moment ago: the second process is refused, the lease stays.
    assert await _allocate(second, 4 * MB, T0 + timedelta(seconds=0.5)) is None
    # Unused for longer than lease_reclaim_idle_seconds: closed, its bytes go to the refused one.
    assert await _allocate(second, 4 * MB, T0 + timedelta(seconds=2)) is not None

    # The first process's allocation can no longer be charged: no overcommit.
    issued = IssuedUrl(
        id=uuid.uuid4(), file_id="f", account_id="acct", bytes=1 * MB, day=DAY, issued_at=T0
    )
    store = partial(
        repository.store_issues,
        target=new_batch(),
        clock=lambda: T0 + timedelta(seconds=2),
        rows=[IssueRow(issued, held, 0)],
    )
    accepted, _ = await writer.run(store)
    assert held not in accepted


def new_batch(batch_id: uuid.UUID | None = None, *, append: bool = False) -> StatsBatchTarget:
    """Rows that start a stats batch (or join ``batch_id`` while it is under a minute old)."""
    return StatsBatchTarget(
        batch_id=batch_id or uuid.uuid4(),
        append=append,
        spare_id=uuid.uuid4(),
        max_age=timedelta(minutes=1),
    )


async def test_commits_join_a_stats_batch_only_while_it_is_young(
    ledgers: tuple[BudgetLedger, BudgetLedger, Writer], any_db_settings: Settings
) -> None:
    """The relay reads a batch once it is old: a batch that old never takes more rows."""
    first, _, writer = ledgers

    async def store(target: StatsBatchTarget, at: datetime) -> uuid.UUID:
        lease = await _allocate(first, 1000, at)
        issued = IssuedUrl(
            id=uuid.uuid4(), file_id="f", account_id="acct", bytes=1000, day=DAY, issued_at=at
        )
        store = partial(
            repository.store_issues,
            target=target,
            clock=lambda: at,
            rows=[IssueRow(issued, lease, 0)],
        )
        accepted, batch_id = await writer.run(store)
        assert lease in accepted
        return batch_id

    opened = new_batch()
    assert await store(opened, T0) == opened.batch_id
    joined = new_batch(opened.batch_id, append=True)
    assert await store(joined, T0 + timedelta(seconds=59)) == opened.batch_id
    late = new_batch(opened.batch_id, append=True)
    assert await store(late, T0 + timedelta(seconds=61)) == late.spare_id
    engine = make_engine(any_db_settings)  # the same database as the ledgers'
    try:
        async with make_sessionmaker(engine)() as session:
            first_rows = await repository.batch_issues(session, opened.batch_id)
            late_rows = await repository.batch_issues(session, late.spare_id)
    finally:
        await engine.dispose()
    assert (len(first_rows), len(late_rows)) == (2, 1)
