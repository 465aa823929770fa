"""Fault injection: Drive's errors on demand, scoped and counted; dropped connections that
keep (and charge) exactly the bytes that got through; latency; the admin API's guard."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.drive_emulator.conftest import MakeDrive, drive_error
from tests.utils.drive import Emulator, EmulatorAdmin

pytestmark = pytest.mark.integration


async def test_injected_errors_are_drives_own(drive: MakeDrive, admin: EmulatorAdmin) -> None:
    api = await drive()
    bystander = await drive()
    await admin.set_faults(
        {"kind": "backendError", "account": api.account.id, "skip": 1, "count": 2}
    )
    statuses = [(await api.http.get("/drive/v3/files")).status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]
    failed = await admin.faults()
    assert failed["rules"][0]["fired"] == 2
    assert (await bystander.http.get("/drive/v3/files")).status_code == 200

    await admin.set_faults({"kind": "tooManyRequests", "account": api.account.id, "count": 1})
    limited = await api.http.get("/drive/v3/files")
    assert limited.status_code == 429
    assert limited.json() == drive_error(
        429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"
    )


async def test_rate_is_a_seeded_probability(drive: MakeDrive, admin: EmulatorAdmin) -> None:
    api = await drive()
    await admin.set_faults(
        {"kind": "rateLimitExceeded", "account": api.account.id, "rate": 0.5}, seed=7
    )
    first = [(await api.http.get("/drive/v3/files")).status_code for _ in range(20)]
    await admin.set_faults(
        {"kind": "rateLimitExceeded", "account": api.account.id, "rate": 0.5}, seed=7
    )
    second = [(await api.http.get("/drive/v3/files")).status_code for _ in range(20)]
    assert first == second
    assert set(first) == {200, 403}


async def test_drop_mid_download_charges_what_got_through(
    drive: MakeDrive, admin: EmulatorAdmin, anonymous: httpx.AsyncClient
) -> None:
    api = await drive()
    file_id = (await api.upload(os.urandom(2 * 1024 * 1024)))["id"]
    await api.share(file_id)
    await admin.set_faults(
        {"kind": "drop", "account": api.account.id, "after_bytes": 100_000, "count": 1}
    )
    with pytest.raises(httpx.RemoteProtocolError):
        await anonymous.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
    assert (await admin.account(api.account.id))["usage"]["downloaded_bytes"] == 100_000
    again = await anonymous.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
    assert len(again.content) == 2 * 1024 * 1024


async def test_latency_and_rules_are_reported(drive: MakeDrive, admin: EmulatorAdmin) -> None:
    api = await drive()
    config = await admin.set_faults(latency_ms=20)
    assert config["latency_ms"] == 20
    assert (await api.http.get("/drive/v3/files")).status_code == 200
    refused = await admin.http.put("/_emulator/faults", json={"rules": [{"kind": "meteor"}]})
    assert refused.status_code == 400
    assert "kind must be" in refused.text


async def test_admin_api_needs_the_admin_token(emulator: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        denied = await http.get("/_emulator/accounts")
        wrong = await http.get("/_emulator/accounts", headers={"Authorization": "Bearer nope"})
    assert (denied.status_code, wrong.status_code) == (401, 401)
