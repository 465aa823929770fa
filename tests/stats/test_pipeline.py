"""The statistics pipeline end to end in one process: Downloader → queue → Stats → reports."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from arq.constants import job_key_prefix
from redis.asyncio import Redis

from services.downloader.config import Settings
from services.shared.stats import STATS_QUEUE, StatsBatch
from tests.utils.downloader import (
    ADMIN,
    INTERNAL,
    MB,
    FakeClock,
    LiveDownloader,
    account,
    drain_stats,
    file,
    live_downloader,
)
from tests.utils.waiting import eventually

pytestmark = pytest.mark.integration

SIZES = {"small": MB // 2, "medium": 3 * MB, "large": 7 * MB}


async def _download_many(
    dl: LiveDownloader, count: int, rng: random.Random
) -> list[dict[str, Any]]:
    """``count`` concurrent downloads of random files and ranges; the tickets received."""
    sem = asyncio.Semaphore(32)

    async def one() -> dict[str, Any] | None:
        name = rng.choice(list(SIZES))
        params = {"offset": rng.randrange(SIZES[name])} if rng.random() < 0.3 else {}
        async with sem:
            response = await dl.client.get(f"/files/{name}/download", params=params)
        if response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    tickets = await asyncio.gather(*(one() for _ in range(count)))
    return [t for t in tickets if t is not None]


async def _report(dl: LiveDownloader, kind: str) -> dict[str, dict[str, Any]]:
    response = await dl.client.get(f"/reports/{kind}", params={"limit": 1000}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return {row["id"]: row for row in response.json()["items"]}


def _truth(tickets: list[dict[str, Any]], key: str) -> dict[str, tuple[int, int]]:
    count: Counter[str] = Counter()
    volume: Counter[str] = Counter()
    for t in tickets:
        count[t[key]] += 1
        volume[t[key]] += t["charged_bytes"]
    return {k: (count[k], volume[k]) for k in count}


def _assert_reports_match(
    files: dict, accounts: dict, tickets: list[dict[str, Any]], *, today_only: list | None = None
) -> None:
    for kind, report in (("file_id", files), ("account_id", accounts)):
        truth = _truth(tickets, kind)
        today = _truth(today_only if today_only is not None else tickets, kind)
        for key, row in report.items():
            assert (row["downloads"], row["bytes_total"]) == truth.get(key, (0, 0)), key
            assert (row["downloads_today"], row["bytes_today"]) == today.get(key, (0, 0)), key
            assert row["mb_total"] == round(row["bytes_total"] / MB, 3)


async def _setup(dl: LiveDownloader) -> None:
    await dl.send(*(account(f"acct{n}", 10_000 * MB) for n in range(5)))
    await dl.send(
        *(file(name, size, [f"acct{n}" for n in range(5)]) for name, size in SIZES.items())
    )


async def test_two_stats_workers_give_exactly_the_issued_totals(
    sqlite_settings: Settings, redis_url: str
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await _setup(dl)
        tickets = await _download_many(dl, 400, random.Random(1))
        assert len(tickets) == 400

        async def settled() -> None:
            await drain_stats(dl, redis_url, workers=2)
            _assert_reports_match(
                await _report(dl, "files"), await _report(dl, "accounts"), tickets
            )

        await eventually(settled, within=30)
        files = await _report(dl, "files")
        assert set(files) == set(SIZES)
        accounts = await _report(dl, "accounts")
        for row in accounts.values():
            assert row["remaining_today"] == row["daily_budget_bytes"] - row["issued_today"]
            assert row["issued_today"] == row["bytes_today"]


async def _settled(dl: LiveDownloader, redis_url: str, tickets: list[dict[str, Any]]) -> None:
    """Wait for the last stats window to be queued and applied: reports equal the truth."""

    async def matches() -> None:
        await drain_stats(dl, redis_url)
        _assert_reports_match(await _report(dl, "files"), await _report(dl, "accounts"), tickets)

    await eventually(matches, within=30)


async def test_commits_of_one_stats_window_reach_stats_as_one_batch(
    sqlite_settings: Settings, redis_url: str
) -> None:
    """One URL at a time is one group commit each; Stats still gets one job per window."""
    settings = sqlite_settings.model_copy(update={"stats_window_seconds": 3.0})
    async with live_downloader(settings) as dl:
        await _setup(dl)
        tickets = []
        for _ in range(10):  # one after the other: each request its own commit
            answer = await dl.client.get("/files/small/download")
            assert answer.status_code == 200, answer.text
            tickets.append(answer.json())
        await _settled(dl, redis_url, tickets)
        async with dl.runtime.sessions() as session:
            from sqlalchemy import func, select

            from services.downloader.models import IssuedUrlRecord, StatsBatchRecord

            batches = (await session.execute(select(func.count(StatsBatchRecord.id)))).scalar()
            urls = (await session.execute(select(func.count(IssuedUrlRecord.id)))).scalar()
        assert urls == 10
        assert batches is not None
        assert batches <= 2  # a window boundary may fall in between


async def test_a_redelivered_batch_is_applied_once(
    sqlite_settings: Settings, redis_url: str
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await _setup(dl)
        increments = {
            "batch_id": "0b5e8c1e-2a52-4a43-9a8e-3d1f0b7c2a11",
            "events": 1,
            "files": [{"key": "small", "day": "2030-01-01", "downloads": 1, "bytes": 5}],
            "accounts": [{"key": "acct0", "day": "2030-01-01", "downloads": 1, "bytes": 5}],
        }
        StatsBatch.model_validate(increments)
        # Unknown batch ids are not applied: only batches the Downloader stored count.
        first = await dl.client.post("/internal/stats", json=increments, headers=INTERNAL)
        assert first.json()["applied"] is False

        tickets = await _download_many(dl, 50, random.Random(2))
        await _settled(dl, redis_url, tickets)
        # Deliver every stored batch again, as the relay would after a lost acknowledgement.
        async with dl.runtime.sessions() as session:
            from sqlalchemy import select

            from services.downloader import repository
            from services.downloader.models import StatsBatchRecord

            ids = list((await session.execute(select(StatsBatchRecord.id))).scalars())
            assert ids
            for batch_id in ids:
                await dl.runtime.recorder._enqueue(
                    batch_id, await repository.batch_issues(session, batch_id)
                )
        await drain_stats(dl, redis_url)
        _assert_reports_match(await _report(dl, "files"), await _report(dl, "accounts"), tickets)


async def test_today_resets_at_the_rollover_and_totals_carry_on(tmp_path, redis_url: str) -> None:
    from tests.utils.downloader import downloader_settings, sqlite_url

    settings = downloader_settings(sqlite_url(tmp_path), redis_url, tmp_path, rollover_utc="06:30")
    clock = FakeClock()
    clock.now = clock.now.replace(hour=6, minute=29, second=59)
    async with live_downloader(settings, clock=clock) as dl:
        await dl.send(account("a", 10 * MB), file("f", 4 * MB, ["a"]))
        day1 = [(await dl.client.get("/files/f/download")).json() for _ in range(2)]
        assert (await dl.client.get("/files/f/download")).status_code == 503  # 8 of 10 MB used
        clock.advance(seconds=2)  # 06:30:01: a new budget day
        day2 = [(await dl.client.get("/files/f/download")).json() for _ in range(2)]
        assert {t["day"] for t in day1} == {"2029-12-31"}  # days start at 06:30 UTC
        assert {t["day"] for t in day2} == {"2030-01-01"}
        await asyncio.sleep(0.2)

        async def settled() -> None:
            await drain_stats(dl, redis_url)
            _assert_reports_match(
                await _report(dl, "files"),
                await _report(dl, "accounts"),
                day1 + day2,
                today_only=day2,
            )

        await eventually(settled, within=30)
        account_row = (await dl.client.get("/accounts/a/stats", headers=ADMIN)).json()
        assert account_row["remaining_today"] == 2 * MB
        assert account_row["bytes_total"] == 16 * MB
        clock.advance(days=1)
        account_row = (await dl.client.get("/accounts/a/stats", headers=ADMIN)).json()
        assert (account_row["bytes_today"], account_row["remaining_today"]) == (0, 10 * MB)
        assert account_row["bytes_total"] == 16 * MB


async def test_the_relay_queues_a_lost_batch_again_and_leaves_queued_ones_alone(
    sqlite_settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await _setup(dl)
        tickets = await _download_many(dl, 40, random.Random(3))
        async with dl.runtime.sessions() as session:
            from sqlalchemy import select

            from services.downloader import repository
            from services.downloader.models import StatsBatchRecord

            ids = [str(i) for i in (await session.execute(select(StatsBatchRecord.id))).scalars()]
        assert ids
        queue = Redis.from_url(redis_url)
        try:

            async def all_queued() -> None:
                assert await queue.exists(*(job_key_prefix + i for i in ids)) == len(ids)

            await eventually(all_queued, within=10)  # each window queued as it closed
            reads: list[object] = []
            read_batch = repository.batch_issues

            async def counted(session: object, batch_id: object) -> object:
                reads.append(batch_id)
                return await read_batch(session, batch_id)  # type: ignore[arg-type]

            monkeypatch.setattr(repository, "batch_issues", counted)
            later = dl.runtime.clock() + timedelta(minutes=10)  # every batch is overdue
            assert await dl.runtime.recorder.relay(later) == 0
            assert reads == []  # still queued: not even read

            lost = ids[0]  # as if Redis had lost the job
            await queue.delete(job_key_prefix + lost)
            await queue.zrem(STATS_QUEUE, lost)
            assert await dl.runtime.recorder.relay(later) == 1
            assert [str(r) for r in reads] == [lost]
        finally:
            await queue.aclose()
        await _settled(dl, redis_url, tickets)  # nothing lost, nothing counted twice
