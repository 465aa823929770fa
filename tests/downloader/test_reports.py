"""Reports: admin token, pagination, sorting, CSV, per-file and per-account figures."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from services.downloader.config import Settings
from tests.utils.downloader import ADMIN, MB, account, drain_stats, file, live_downloader
from tests.utils.waiting import eventually

pytestmark = pytest.mark.integration


async def test_reports_page_sort_and_export(sqlite_settings: Settings, redis_url: str) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(*(account(f"a{n}", 1000 * MB) for n in range(3)))
        await dl.send(*(file(f"f{n}", (n + 1) * MB, ["a0", "a1", "a2"]) for n in range(5)))
        for n in range(5):
            for _ in range(n + 1):  # file fN is downloaded N+1 times
                assert (await dl.client.get(f"/files/f{n}/download")).status_code == 200
        await asyncio.sleep(0.2)

        async def counted() -> None:
            await drain_stats(dl, redis_url)
            row = (await dl.client.get("/files/f4/stats", headers=ADMIN)).json()
            assert (row["downloads"], row["bytes_total"], row["mb_today"]) == (5, 25 * MB, 25.0)

        await eventually(counted, within=30)

        page = (
            await dl.client.get(
                "/reports/files",
                params={"sort": "-downloads", "limit": 2, "offset": 1},
                headers=ADMIN,
            )
        ).json()
        assert page["total"] == 5
        assert [r["id"] for r in page["items"]] == ["f3", "f2"]
        by_name = (
            await dl.client.get("/reports/files", params={"sort": "name"}, headers=ADMIN)
        ).json()
        assert [r["id"] for r in by_name["items"]] == ["f0", "f1", "f2", "f3", "f4"]

        exported = await dl.client.get("/reports/accounts", params={"format": "csv"}, headers=ADMIN)
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["id"] for r in rows] == ["a0", "a1", "a2"]
        assert sum(int(r["downloads"]) for r in rows) == 15
        assert sum(int(r["bytes_total"]) for r in rows) == sum((n + 1) ** 2 for n in range(5)) * MB
        for r in rows:
            assert int(r["remaining_today"]) == 1000 * MB - int(r["issued_today"])

        assert (await dl.client.get("/accounts/nope/stats", headers=ADMIN)).status_code == 404
        assert (
            await dl.client.get("/reports/files", params={"sort": "size; drop"}, headers=ADMIN)
        ).status_code == 422
        assert (
            await dl.client.get("/reports/files", params={"limit": 0}, headers=ADMIN)
        ).status_code == 422
        for path in (
            "/reports/files",
            "/reports/accounts",
            "/files/f0/stats",
            "/accounts/a0/stats",
        ):
            assert (await dl.client.get(path)).status_code == 401


async def test_probes_and_metrics(sqlite_settings: Settings) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(account("a", 100 * MB), file("f", MB, ["a"]))
        assert (await dl.client.get("/files/f/download")).status_code == 200
        assert (await dl.client.get("/healthz")).json() == {"status": "ok"}
        assert (await dl.client.get("/readyz")).json() == {"status": "ok"}
        await dl.runtime.maintain()
        text = (await dl.client.get("/metrics")).text
        assert 'fileserver_downloader_urls_issued_total{account="a"}' in text
        assert (
            f'fileserver_downloader_budget_remaining_bytes{{account="a"}} {float(99 * MB):.1e}'
            in text
        )
        assert "fileserver_downloader_lease_operations_total" in text
