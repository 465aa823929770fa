"""Catalog events: idempotent application, out-of-order storms, bad payloads, authentication."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.downloader.config import Settings
from services.shared.events import Event, FileStatus
from tests.utils.downloader import INTERNAL, MB, account, batch, file, live_downloader

pytestmark = pytest.mark.integration


async def _catalog(client, kind: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    after = ""
    while True:
        response = await client.get(
            "/internal/catalog", params={"kind": kind, "after": after, "limit": 7}, headers=INTERNAL
        )
        assert response.status_code == 200, response.text
        page = response.json()
        out.update({item["state"]["id"]: item for item in page["items"]})
        if page["next_after"] is None:
            return out
        after = page["next_after"]


async def test_storm_of_reordered_duplicated_events_converges(any_db_settings: Settings) -> None:
    rng = random.Random(5)
    # The Uploader's history: every aggregate changes several times; the last state wins.
    history: list[Event] = []
    truth: dict[str, Event] = {}
    for n in range(12):
        for seq in range(1, 4):
            ev = account(f"acct{n}", (n + seq) * MB, enabled=seq != 2, seq=seq)
            history.append(ev)
            truth[f"account:acct{n}"] = ev
    for n in range(30):
        holders = [f"acct{(n + k) % 12}" for k in range(3)]
        for seq in range(1, 5):
            ev = file(
                f"file{n}",
                (n + 1) * MB,
                holders[: seq % 4],
                status=FileStatus.UPLOADED if seq >= 3 else FileStatus.REPLICATING,
                deleted=n % 7 == 0 and seq == 4,
                seq=seq,
            )
            history.append(ev)
            truth[f"file:file{n}"] = ev
    deliveries = history + rng.sample(history, len(history) // 2)  # duplicates
    rng.shuffle(deliveries)  # and any order
    async with live_downloader(any_db_settings) as dl:
        applied = ignored = 0
        for start in range(0, len(deliveries), 17):
            result = await dl.send(*deliveries[start : start + 17])
            applied += result["applied"]
            ignored += result["ignored"]
        assert applied + ignored == len(deliveries)
        assert ignored >= len(deliveries) - len(history)

        for kind in ("account", "file"):
            stored = await _catalog(dl.client, kind)
            expected = {ev.state.id: ev for key, ev in truth.items() if key.startswith(kind + ":")}
            assert set(stored) == set(expected)
            for aggregate_id, ev in expected.items():
                state = ev.state.model_dump(mode="json")
                if kind == "file" and ev.state.deleted:
                    state["replicas"] = []  # a tombstone keeps no replicas
                assert stored[aggregate_id] == {"seq": ev.seq, "state": state}

        # The in-memory catalog follows the database.
        for n in range(30):
            cached = dl.runtime.catalog.files[f"file{n}"]
            assert cached.deleted == (n % 7 == 0)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"events": []},
        {
            "events": [
                {
                    "seq": 0,
                    "state": {
                        "kind": "account",
                        "id": "a",
                        "email": "e",
                        "daily_budget_bytes": 1,
                        "enabled": True,
                    },
                }
            ]
        },
        {
            "events": [
                {
                    "seq": 1,
                    "state": {
                        "kind": "account",
                        "id": "a",
                        "email": "e",
                        "daily_budget_bytes": -1,
                        "enabled": True,
                    },
                }
            ]
        },
        {"events": [{"seq": 1, "state": {"kind": "disk", "id": "a"}}]},
        {
            "events": [
                {
                    "seq": 1,
                    "state": {
                        "kind": "file",
                        "id": "f",
                        "name": "n",
                        "size": 1,
                        "content_type": "x",
                        "status": "lost",
                    },
                }
            ]
        },
        {
            "events": [
                {
                    "seq": 1,
                    "extra": 1,
                    "state": {
                        "kind": "account",
                        "id": "a",
                        "email": "e",
                        "daily_budget_bytes": 1,
                        "enabled": True,
                    },
                }
            ]
        },
    ],
)
async def test_bad_event_payloads_are_refused_and_change_nothing(
    sqlite_settings: Settings, body: dict
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        before = dl.runtime.catalog.rev
        response = await dl.client.post("/internal/events", json=body, headers=INTERNAL)
        assert response.status_code == 422
        assert response.json()["detail"]
        assert await _catalog(dl.client, "account") == {}
        await dl.runtime.catalog.refresh()
        assert dl.runtime.catalog.rev == before


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic x"}],
)
async def test_internal_endpoints_need_the_internal_token(
    sqlite_settings: Settings, headers: dict
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        response = await dl.client.post(
            "/internal/events", json=batch(account("a", MB)), headers=headers
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        stats = await dl.client.post("/internal/stats", json={}, headers=headers)
        assert stats.status_code == 401
        assert await _catalog(dl.client, "account") == {}


async def test_a_change_applied_by_one_process_is_served_at_once_by_another(
    any_db_settings: Settings, tmp_path: Path
) -> None:
    # Background refreshes an hour apart: only the refresh a refusal triggers can help.
    quiet = {"maintenance_interval_seconds": 3600.0}
    first = any_db_settings.model_copy(update={**quiet, "state_dir": tmp_path / "one"})
    second = any_db_settings.model_copy(update={**quiet, "state_dir": tmp_path / "two"})
    async with live_downloader(first) as one, live_downloader(second) as two:
        await one.send(account("a", 10 * MB), file("f", MB, [], status=FileStatus.REPLICATING))
        early = await two.client.get("/files/f/download")
        assert early.status_code == 409, early.text  # known to the second process: replicating
        await one.send(file("f", MB, ["a"], status=FileStatus.UPLOADED))
        served = await two.client.get("/files/f/download")
        assert served.status_code == 200, served.text
        assert served.json()["account_id"] == "a"
