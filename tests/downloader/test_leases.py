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
from services.downloader.repository import IssueRow
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
        batch_id=uuid.uuid4(),
        now=T0 + timedelta(seconds=2),
        rows=[IssueRow(issued, held, 0)],
    )
    assert held not in await writer.run(store)
