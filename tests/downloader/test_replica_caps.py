"""Drive's per-file lock: no replica is handed out past its daily cap, whatever its account's
budget, and the others take over; fetched at the emulator, every issued URL works."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.downloader.config import Settings
from services.downloader.db import migrate
from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from tests.utils.downloader import (
    ADMIN,
    INTERNAL,
    MB,
    FakeClock,
    account,
    batch,
    downloader_env,
    downloader_settings,
    file,
    live_downloader,
)
from tests.utils.drive import Emulator, EmulatorAdmin, PatternSource
from tests.utils.services import ServiceProcess

pytestmark = pytest.mark.integration


def _refusals(text: str) -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "fileserver_downloader_refusals"
        for s in family.samples
        if s.name.endswith("_total")
    }


async def test_a_replica_at_its_cap_is_passed_over_and_its_account_keeps_its_budget(
    any_db_settings: Settings,
) -> None:
    clock = FakeClock()
    settings = any_db_settings.model_copy(update={"replica_daily_cap_bytes": 10 * MB})
    async with live_downloader(settings, clock=clock) as dl:
        before = _refusals((await dl.client.get("/metrics")).text)  # counters are per process
        await dl.send(
            account("a", 100 * MB),
            account("b", 100 * MB),
            file("hot", 4 * MB, ["a", "b"]),
            file("cold", 4 * MB, ["a"]),
        )
        served = Counter()
        for _ in range(4):
            response = await dl.client.get("/files/hot/download")
            assert response.status_code == 200, response.text
            served[response.json()["account_id"]] += 4 * MB
        assert served == {"a": 8 * MB, "b": 8 * MB}
        # 2 MB is left on each replica: a whole copy no longer fits on either...
        refused = await dl.client.get("/files/hot/download")
        assert refused.status_code == 503
        assert "per-file daily limit" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0
        # ...a range that fits still does, and the accounts' budgets are far from spent.
        for _ in range(2):
            ranged = await dl.client.get("/files/hot/download", params={"length": 2 * MB})
            assert ranged.status_code == 200
        assert (await dl.client.get("/files/hot/download", params={"length": 1})).status_code == 503
        cold = await dl.client.get("/files/cold/download")
        assert cold.status_code == 200
        assert cold.json()["account_id"] == "a"
        figures = await dl.client.get("/accounts/a/stats", headers=ADMIN)
        assert figures.json()["issued_today"] == 8 * MB + 2 * MB + 4 * MB
        reasons = _refusals((await dl.client.get("/metrics")).text)
        assert reasons.get("replica_cap", 0) - before.get("replica_cap", 0) == 2
        assert reasons.get("budget", 0) == before.get("budget", 0)

        # A fresh copy (another Drive id, as a re-keyed replica gets) starts a fresh count.
        fresh = file("hot", 4 * MB, ["a", "b"])
        replicas = tuple(
            r.model_copy(update={"drive_file_id": f"{r.drive_file_id}-v2"})
            if r.account_id == "b"
            else r
            for r in fresh.state.replicas
        )
        await dl.send(
            fresh.model_copy(
                update={"state": fresh.state.model_copy(update={"replicas": replicas})}
            )
        )
        again = await dl.client.get("/files/hot/download")
        assert again.status_code == 200
        assert again.json()["account_id"] == "b"

        # The next budget day, every replica has its whole cap again.
        clock.now += timedelta(days=1)
        served = Counter()
        for _ in range(4):
            response = await dl.client.get("/files/hot/download")
            assert response.status_code == 200
            served[response.json()["account_id"]] += 1
        assert served == {"a": 2, "b": 2}


async def _hot_file_on(emulator: Emulator, accounts: int, cap: int) -> dict[str, str]:
    """Accounts with a large budget and a per-file cap, each holding a copy of one file."""
    admin = EmulatorAdmin(emulator.url)
    drive = DriveSettings(root_url=emulator.url)
    drive_ids: dict[str, str] = {}
    try:
        for _ in range(accounts):
            acct = await admin.create_account(
                download_bytes_per_day=1000 * MB, file_download_bytes_per_day=cap
            )
            async with DriveClient(acct.parsed(), drive, account_id=acct.id) as client:
                made = await client.upload(PatternSource(2 * MB).stream(), "hot.bin", 2 * MB)
                await client.share_anyone_reader(made.id)
            drive_ids[acct.id] = made.id
    finally:
        await admin.aclose()
    return drive_ids


@pytest.mark.parametrize("capped", [True, False], ids=["capped", "uncapped"])
async def test_three_processes_never_hand_out_a_url_drive_would_refuse(
    tmp_path: Path, pg_dsn: str, redis_url: str, emulator: Emulator, capped: bool
) -> None:
    """With the cap, every issued URL downloads; without it (the same run) Drive locks the
    file and the URLs past its limit fail: the cap is what keeps them working."""
    cap = 12 * MB
    drive_ids = await _hot_file_on(emulator, 3, cap)
    settings = downloader_settings(pg_dsn, redis_url, tmp_path)
    await asyncio.to_thread(migrate, settings)
    env = {
        **downloader_env(pg_dsn, redis_url, tmp_path, emulator.url),
        "FILESERVER_DOWNLOADER_REPLICA_DAILY_CAP_BYTES": str(cap if capped else 0),
    }
    procs = [
        ServiceProcess("services.downloader", env, tmp_path, prefix="FILESERVER_DOWNLOADER_")
        for _ in range(3)
    ]
    hot = file("hot", 2 * MB, list(drive_ids))
    replicas = tuple(
        r.model_copy(update={"drive_file_id": drive_ids[r.account_id]}) for r in hot.state.replicas
    )
    events = batch(
        *(account(a, 1000 * MB) for a in drive_ids),
        hot.model_copy(update={"state": hot.state.model_copy(update={"replicas": replicas})}),
    )
    try:
        for proc in procs:
            await asyncio.to_thread(proc.start)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            answer = await http.post(
                f"{procs[0].url}/internal/events", json=events, headers=INTERNAL
            )
            assert answer.status_code == 200, answer.text
            tickets: list[dict[str, Any]] = []
            refused: list[httpx.Response] = []

            async def client(n: int) -> None:
                for k in range(3):
                    proc = procs[(n + k) % 3]
                    response = await http.get(f"{proc.url}/files/hot/download")
                    if response.status_code == 200:
                        tickets.append(response.json())
                    else:
                        refused.append(response)

            await asyncio.gather(*(client(n) for n in range(32)))  # 96 requests, 192 MB

            per_replica = Counter()
            for ticket in tickets:
                per_replica[ticket["account_id"]] += ticket["charged_bytes"]
            sem = asyncio.Semaphore(8)

            async def fetch(ticket: dict[str, Any]) -> int:
                async with sem:
                    response = await http.get(ticket["url"])
                if response.status_code == 200:
                    assert len(response.content) == ticket["charged_bytes"]
                else:
                    assert "downloadQuotaExceeded" in response.text, response.text[:300]
                return response.status_code

            statuses = Counter(await asyncio.gather(*(fetch(t) for t in tickets)))
        if capped:
            assert all(issued <= cap for issued in per_replica.values()), per_replica
            # Most of the caps went out (three processes' leases leave crumbs).
            assert sum(per_replica.values()) >= 3 * cap / 2
            assert statuses == {200: len(tickets)}
            assert refused
            assert all(r.status_code == 503 for r in refused)
            assert all("per-file daily limit" in r.json()["detail"] for r in refused)
        else:
            assert max(per_replica.values()) > cap  # handed out past Drive's limit...
            assert statuses[403] > 0  # ...and those URLs fail at Drive
    finally:
        for proc in procs:
            proc.stop()
