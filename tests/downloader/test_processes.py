"""Real processes: three Downloaders on one PostgreSQL database never overcommit a budget, and
the statistics survive SIGKILLs of a Downloader and of a Stats worker."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.downloader.db import make_engine, make_sessionmaker, migrate
from services.downloader.models import IssuedUrlRecord
from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from tests.utils.downloader import (
    ADMIN,
    INTERNAL,
    INTERNAL_TOKEN,
    MB,
    account,
    batch,
    downloader_env,
    downloader_settings,
    file,
)
from tests.utils.drive import Emulator, EmulatorAdmin, PatternSource
from tests.utils.services import ServiceProcess
from tests.utils.waiting import eventually

pytestmark = pytest.mark.integration

SIZES = {"one": 1 * MB, "two": 2_500_000, "four": 4 * MB}
BUDGET = 30 * MB


async def _drive_catalog(
    emulator: Emulator, accounts: int
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Accounts on the emulator with BUDGET bytes a day, each holding every file of SIZES."""
    admin = EmulatorAdmin(emulator.url)
    ids: list[str] = []
    drive_ids: dict[str, dict[str, str]] = {name: {} for name in SIZES}
    drive = DriveSettings(root_url=emulator.url)
    try:
        for _ in range(accounts):
            acct = await admin.create_account(
                download_bytes_per_day=BUDGET, file_download_bytes_per_day=0
            )
            ids.append(acct.id)
            async with DriveClient(acct.parsed(), drive, account_id=acct.id) as client:
                for name, size in SIZES.items():
                    uploaded = await client.upload(
                        PatternSource(size).stream(), f"{name}.bin", size
                    )
                    await client.share_anyone_reader(uploaded.id)
                    drive_ids[name][acct.id] = uploaded.id
    finally:
        await admin.aclose()
    return ids, drive_ids


def _events(accounts: list[str], drive_ids: dict[str, dict[str, str]]) -> dict[str, Any]:
    events = [account(a, BUDGET) for a in accounts]
    for name, size in SIZES.items():
        ev = file(name, size, accounts)
        replicas = tuple(
            r.model_copy(update={"drive_file_id": drive_ids[name][r.account_id]})
            for r in ev.state.replicas
        )
        events.append(
            ev.model_copy(update={"state": ev.state.model_copy(update={"replicas": replicas})})
        )
    return batch(*events)


async def test_three_processes_256_clients_never_overcommit(
    tmp_path: Path, pg_dsn: str, redis_url: str, emulator: Emulator
) -> None:
    accounts, drive_ids = await _drive_catalog(emulator, 4)
    settings = downloader_settings(pg_dsn, redis_url, tmp_path)
    await asyncio.to_thread(migrate, settings)
    env = downloader_env(pg_dsn, redis_url, tmp_path, emulator.url)
    procs = [
        ServiceProcess("services.downloader", env, tmp_path, prefix="FILESERVER_DOWNLOADER_")
        for _ in range(3)
    ]
    try:
        for proc in procs:
            await asyncio.to_thread(proc.start)
        # A fresh connection per request: under this load, reused keep-alive connections were
        # sometimes closed under a request (ReadError, cause not yet found), and such a request
        # has an unknown outcome, which this exact comparison cannot allow.
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            answer = await http.post(
                f"{procs[0].url}/internal/events",
                json=_events(accounts, drive_ids),
                headers=INTERNAL,
            )
            assert answer.status_code == 200, answer.text
            rng = random.Random(256)
            tickets: list[dict[str, Any]] = []
            refusals: list[httpx.Response] = []

            async def client(n: int) -> None:
                for k in range(6):
                    name = rng.choice(list(SIZES))
                    params = {"offset": rng.randrange(SIZES[name])} if rng.random() < 0.25 else {}
                    proc = procs[(n + k) % 3]
                    response = await http.get(f"{proc.url}/files/{name}/download", params=params)
                    if response.status_code == 200:
                        tickets.append(response.json())
                    else:
                        refusals.append(response)

            await asyncio.gather(*(client(n) for n in range(256)))

            assert refusals, "budgets must run out in this test"
            for refusal in refusals:
                assert refusal.status_code == 503, refusal.text
                assert int(refusal.headers["retry-after"]) > 0
                assert "budget" in refusal.json()["detail"]
            issued = Counter()
            for t in tickets:
                issued[t["account_id"]] += t["charged_bytes"]
            assert set(issued) == set(accounts)
            for acct in accounts:
                assert issued[acct] <= BUDGET
            # The database agrees with what the clients received.
            engine = make_engine(settings)
            async with make_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(IssuedUrlRecord.account_id, func.sum(IssuedUrlRecord.bytes)).group_by(
                        IssuedUrlRecord.account_id
                    )
                )
                assert {a: int(b) for a, b in rows} == dict(issued)
            await engine.dispose()
            # Most of the pool was handed out (leases of three processes leave some crumbs).
            assert sum(issued.values()) >= 0.9 * BUDGET * len(accounts)

            # Fetch every issued URL from Drive (the emulator): none is over quota.
            sem = asyncio.Semaphore(16)

            async def fetch(ticket: dict[str, Any]) -> int:
                headers = {"Range": ticket["range"]} if ticket["range"] else {}
                async with sem:
                    response = await http.get(ticket["url"], headers=headers)
                assert response.status_code in (200, 206), response.text[:300]
                assert len(response.content) == ticket["charged_bytes"]
                return response.status_code

            await asyncio.gather(*(fetch(t) for t in tickets))
    finally:
        for proc in procs:
            proc.stop()


def _stats_env(redis_url: str, downloader_url: str) -> dict[str, str]:
    return {
        "FILESERVER_STATS_REDIS_URL": redis_url,
        "FILESERVER_STATS_DOWNLOADER_URL": downloader_url,
        "FILESERVER_STATS_DOWNLOADER_TOKEN": INTERNAL_TOKEN,
        "FILESERVER_STATS_JOB_TIMEOUT_SECONDS": "3",
    }


async def test_statistics_are_exact_after_sigkills(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    settings = downloader_settings(pg_dsn, redis_url, tmp_path)
    await asyncio.to_thread(migrate, settings)
    downloader = ServiceProcess(
        "services.downloader",
        downloader_env(pg_dsn, redis_url, tmp_path, "http://127.0.0.1:9/"),
        tmp_path,
        prefix="FILESERVER_DOWNLOADER_",
    )
    await asyncio.to_thread(downloader.start)
    stats = ServiceProcess(
        "services.stats",
        _stats_env(redis_url, downloader.url),
        tmp_path,
        prefix="FILESERVER_STATS_",
    )
    await asyncio.to_thread(stats.start)
    accounts = [f"acct{n}" for n in range(4)]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            events = batch(
                *(account(a, 10**12) for a in accounts),
                *(file(n, s, accounts) for n, s in SIZES.items()),
            )
            assert (
                await http.post(f"{downloader.url}/internal/events", json=events, headers=INTERNAL)
            ).status_code == 200
            rng = random.Random(9)
            received: list[dict[str, Any]] = []
            unknown = 0
            stop = asyncio.Event()

            async def client() -> None:
                nonlocal unknown
                while not stop.is_set():
                    name = rng.choice(list(SIZES))
                    try:
                        response = await http.get(f"{downloader.url}/files/{name}/download")
                    except httpx.HTTPError:
                        unknown += 1  # killed mid-request: issued or not, the client cannot tell
                        await asyncio.sleep(0.2)
                        continue
                    assert response.status_code == 200, response.text
                    received.append(response.json())

            clients = [asyncio.create_task(client()) for _ in range(32)]
            await asyncio.sleep(3)
            await asyncio.to_thread(stats.kill)
            await asyncio.sleep(2)
            await asyncio.to_thread(downloader.kill)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(downloader.start)
            await asyncio.to_thread(stats.start)
            await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*clients)
            assert len(received) > 100

            engine = make_engine(settings)
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                stored = {
                    row[0]: row
                    for row in await session.execute(
                        select(
                            IssuedUrlRecord.id,
                            IssuedUrlRecord.file_id,
                            IssuedUrlRecord.account_id,
                            IssuedUrlRecord.bytes,
                        )
                    )
                }
            await engine.dispose()
            # Every URL a client received is stored; the only extra ones are those issued to
            # clients that lost their answer when the Downloader was killed.
            got = {t["id"] for t in received}
            assert got <= {str(k) for k in stored}
            assert len(stored) - len(got) <= unknown

            def truth(column: int) -> dict[str, tuple[int, int]]:
                count: Counter[str] = Counter()
                volume: Counter[str] = Counter()
                for row in stored.values():
                    count[row[column]] += 1
                    volume[row[column]] += row[3]
                return {k: (count[k], volume[k]) for k in count}

            async def reports_equal_truth() -> None:
                for kind, column in (("files", 1), ("accounts", 2)):
                    answer = await http.get(f"{downloader.url}/reports/{kind}", headers=ADMIN)
                    rows = {
                        r["id"]: (r["downloads"], r["bytes_total"]) for r in answer.json()["items"]
                    }
                    assert rows == truth(column)

            # The killed Stats job runs again once its in-progress mark expires (job timeout
            # + 10 s); batches never queued are relayed by the Downloader.
            await eventually(reports_equal_truth, within=120)
    finally:
        stats.stop()
        downloader.stop()
