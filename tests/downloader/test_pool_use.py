"""Balancing under load: uniform bytes per account, and nearly all of the pool used."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from services.downloader.config import Settings
from tests.utils.downloader import GB, MB, account, file, live_downloader

pytestmark = pytest.mark.integration


async def test_ten_accounts_get_within_five_percent_of_each_others_bytes(
    sqlite_settings: Settings,
) -> None:
    rng = random.Random(10)
    accounts = [f"acct{n:02d}" for n in range(10)]
    sizes = {f"file{n:02d}": rng.randint(1, 200) * MB for n in range(25)}
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(*(account(a, 1000 * GB) for a in accounts))
        await dl.send(*(file(f, size, accounts) for f, size in sizes.items()))
        served: Counter[str] = Counter()
        sem = asyncio.Semaphore(32)

        async def one(name: str) -> None:
            async with sem:
                response = await dl.client.get(f"/files/{name}/download")
            assert response.status_code == 200, response.text
            ticket = response.json()
            served[ticket["account_id"]] += ticket["charged_bytes"]

        names = [rng.choice(list(sizes)) for _ in range(10_000)]
        await asyncio.gather(*(one(name) for name in names))

    assert sum(served.values()) == sum(sizes[n] for n in names)
    assert set(served) == set(accounts)
    # Every account within 5 % of every other (the bound is one file size: 200 MB of ~100 GB).
    assert max(served.values()) <= 1.05 * min(served.values())


async def test_concurrent_requests_rotate_over_the_accounts(sqlite_settings: Settings) -> None:
    accounts = [f"acct{n}" for n in range(10)]
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(*(account(a, 1000 * GB) for a in accounts))
        await dl.send(file("f", MB, accounts))
        responses = await asyncio.gather(*(dl.client.get("/files/f/download") for _ in range(100)))
    served = Counter(r.json()["account_id"] for r in responses)
    assert served == dict.fromkeys(accounts, 10)


async def test_pool_is_used_to_98_percent_before_a_needless_refusal(
    sqlite_settings: Settings,
) -> None:
    rng = random.Random(98)
    budgets = {f"acct{n}": rng.randint(400, 900) * MB for n in range(6)}
    sizes = {f"file{n:02d}": rng.randint(1, 60) * MB for n in range(15)}
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(*(account(a, b) for a, b in budgets.items()))
        await dl.send(*(file(f, size, list(budgets)) for f, size in sizes.items()))
        issued: Counter[str] = Counter()
        needless = 0
        while True:
            name = rng.choice(list(sizes))
            response = await dl.client.get(f"/files/{name}/download")
            if response.status_code == 200:
                ticket = response.json()
                issued[ticket["account_id"]] += ticket["charged_bytes"]
                assert issued[ticket["account_id"]] <= budgets[ticket["account_id"]]
                continue
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) > 0
            if any(budgets[a] - issued[a] >= sizes[name] for a in budgets):
                needless += 1  # some account could still have served it
                break
            if sizes[name] == min(sizes.values()):
                break  # not even the smallest file fits anywhere: the pool is spent
    assert needless == 0
    assert sum(issued.values()) >= 0.98 * sum(budgets.values())
