"""Accounts CRUD: credentials are write-only, stored encrypted, never shown."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.utils.uploader import ADMIN, LiveUploader

pytestmark = pytest.mark.integration

SECRET = "refresh-token-that-must-never-leak-7f3a9c"
CREDENTIALS = {
    "type": "authorized_user",
    "client_id": "client-1.apps.example",
    "client_secret": "client-secret-never-shown-41d2",
    "refresh_token": SECRET,
}


def account_body(email: str = "pool-1@example.com", **extra: Any) -> dict[str, Any]:
    return {"email": email, "display_name": "Pool 1", "credentials": CREDENTIALS, **extra}


async def test_create_read_update_list(uploader: LiveUploader) -> None:
    created = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["credentials_kind"] == "authorized_user"
    assert account["daily_budget_bytes"] == 100 * 10**9
    assert account["enabled"] is True
    assert account["health"] == "ok"
    assert "credentials" not in account

    patched = await uploader.client.patch(
        f"/accounts/{account['id']}",
        json={"daily_budget_bytes": 5, "enabled": False},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["daily_budget_bytes"] == 5
    assert patched.json()["enabled"] is False

    listing = await uploader.client.get("/accounts", headers=ADMIN)
    assert listing.status_code == 200
    assert listing.json()["total"] == 1
    assert [a["id"] for a in listing.json()["items"]] == [account["id"]]


async def test_credentials_encrypted_at_rest_and_never_returned(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    created = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    account_id = created.json()["id"]
    stored = await mongo_db["accounts"].find_one({"_id": account_id})
    assert stored is not None
    assert SECRET not in str(stored)
    assert CREDENTIALS["client_secret"] not in str(stored)
    assert uploader.app.state.vault.open(stored["credentials"]) == CREDENTIALS

    for response in (
        created,
        await uploader.client.get(f"/accounts/{account_id}", headers=ADMIN),
        await uploader.client.get("/accounts", headers=ADMIN),
        await uploader.client.patch(
            f"/accounts/{account_id}", json={"credentials": CREDENTIALS}, headers=ADMIN
        ),
    ):
        assert response.status_code in (200, 201)
        assert SECRET not in response.text
        assert "client-secret" not in response.text


async def test_invalid_credentials_are_refused_without_echo(uploader: LiveUploader) -> None:
    broken = {"type": "authorized_user", "client_id": "x", "refresh_token": SECRET}
    response = await uploader.client.post(
        "/accounts", json=account_body(credentials=broken), headers=ADMIN
    )
    assert response.status_code == 422
    assert "client_secret" in response.json()["detail"]
    assert SECRET not in response.text

    # A body that fails schema validation is not echoed back either.
    response = await uploader.client.post(
        "/accounts", json=account_body(email="not-an-email"), headers=ADMIN
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body.email")
    assert SECRET not in response.text


async def test_duplicate_email_conflicts(uploader: LiveUploader) -> None:
    first = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    assert first.status_code == 201
    second = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    assert second.status_code == 409
    assert "exists already" in second.json()["detail"]


async def test_accounts_need_the_admin_token(uploader: LiveUploader) -> None:
    for method, path in (
        ("GET", "/accounts"),
        ("POST", "/accounts"),
        ("DELETE", "/accounts/x"),
        ("POST", "/accounts/x:check"),
    ):
        response = await uploader.client.request(method, path, json=account_body())
        assert response.status_code == 401, (method, path)
        wrong = await uploader.client.request(
            method, path, json=account_body(), headers={"Authorization": "Bearer wrong"}
        )
        assert wrong.status_code == 401


async def test_unknown_account_is_404(uploader: LiveUploader) -> None:
    for method, path in (
        ("GET", "/accounts/nope"),
        ("PATCH", "/accounts/nope"),
        ("DELETE", "/accounts/nope"),
        ("POST", "/accounts/nope:check"),
    ):
        response = await uploader.client.request(
            method, path, headers=ADMIN, json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, method
        assert response.json()["detail"] == "no account with id 'nope'"


async def test_delete_drains_then_removes(uploader: LiveUploader) -> None:
    created = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    account_id = created.json()["id"]
    deleted = await uploader.client.delete(f"/accounts/{account_id}", headers=ADMIN)
    assert deleted.status_code == 202
    assert deleted.json()["draining"] is True
    patched = await uploader.client.patch(
        f"/accounts/{account_id}", json={"enabled": True}, headers=ADMIN
    )
    assert patched.status_code == 409


OPERATOR = "fileserver-operator"
AS_OPERATOR = {**ADMIN, "X-Fileserver-Manager": OPERATOR}


async def test_a_managed_account_changes_only_through_its_manager(uploader: LiveUploader) -> None:
    created = await uploader.client.post(
        "/accounts", json=account_body(managed_by=OPERATOR), headers=ADMIN
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["managed_by"] == OPERATOR
    path = f"/accounts/{account['id']}"

    for headers in (ADMIN, {**ADMIN, "X-Fileserver-Manager": "someone-else"}):
        refused = await uploader.client.patch(path, json={"enabled": False}, headers=headers)
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            f"account {account['id']!r} (pool-1@example.com) is managed by "
            "fileserver-operator: change its DriveAccount resource instead"
        )
        assert refused.json()["managed_by"] == OPERATOR
        assert (await uploader.client.delete(path, headers=headers)).status_code == 409
    unchanged = (await uploader.client.get(path, headers=ADMIN)).json()
    assert unchanged["enabled"] is True
    assert unchanged["draining"] is False

    allowed = await uploader.client.patch(path, json={"enabled": False}, headers=AS_OPERATOR)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["enabled"] is False
    deleted = await uploader.client.delete(path, headers=AS_OPERATOR)
    assert deleted.status_code == 202
    assert deleted.json()["draining"] is True


async def test_a_manager_releases_and_another_adopts(uploader: LiveUploader) -> None:
    created = await uploader.client.post("/accounts", json=account_body(), headers=ADMIN)
    path = f"/accounts/{created.json()['id']}"
    assert created.json()["managed_by"] is None
    # Unmanaged: the header is not needed (and changes nothing when sent).
    adopted = await uploader.client.patch(path, json={"managed_by": OPERATOR}, headers=ADMIN)
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["managed_by"] == OPERATOR
    refused = await uploader.client.patch(path, json={"managed_by": None}, headers=ADMIN)
    assert refused.status_code == 409
    released = await uploader.client.patch(path, json={"managed_by": None}, headers=AS_OPERATOR)
    assert released.status_code == 200
    assert released.json()["managed_by"] is None
    again = await uploader.client.patch(path, json={"display_name": "free"}, headers=ADMIN)
    assert again.status_code == 200
    assert again.json()["display_name"] == "free"


@pytest.mark.parametrize("manager", ["", "Operator", "-op", "a b", "x" * 64, "op/1"])
async def test_a_bad_manager_name_is_422(uploader: LiveUploader, manager: str) -> None:
    response = await uploader.client.post(
        "/accounts", json=account_body(managed_by=manager), headers=ADMIN
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body.managed_by")


async def test_list_filters_by_exact_email(uploader: LiveUploader) -> None:
    for email in ("pool-1@example.com", "pool-10@example.com", "other@example.com"):
        created = await uploader.client.post("/accounts", json=account_body(email), headers=ADMIN)
        assert created.status_code == 201
    found = await uploader.client.get(
        "/accounts", params={"email": "pool-1@example.com"}, headers=ADMIN
    )
    assert found.status_code == 200
    assert found.json()["total"] == 1
    (item,) = found.json()["items"]
    assert item["email"] == "pool-1@example.com"
    assert item["replicas"] == 0
    none = await uploader.client.get(
        "/accounts", params={"email": "pool-@example.com"}, headers=ADMIN
    )
    assert none.json() == {"items": [], "total": 0, "offset": 0, "limit": 100}
    everyone = await uploader.client.get("/accounts", headers=ADMIN)
    assert everyone.json()["total"] == 3


async def test_create_credentials_and_enabling_queue_a_backfill(uploader: LiveUploader) -> None:
    redis = uploader.app.state.jobs.redis

    async def queued(account_id: str) -> bool:
        return bool(await redis.exists(f"arq:job:backfill_account:{account_id}"))

    created = await uploader.client.post(
        "/accounts", json=account_body(enabled=False), headers=ADMIN
    )
    account_id = created.json()["id"]
    assert await queued(account_id)
    await redis.delete(f"arq:job:backfill_account:{account_id}")
    path = f"/accounts/{account_id}"

    await uploader.client.patch(path, json={"display_name": "x"}, headers=ADMIN)
    assert not await queued(account_id)
    await uploader.client.patch(path, json={"enabled": True}, headers=ADMIN)
    assert await queued(account_id)
    await redis.delete(f"arq:job:backfill_account:{account_id}")
    await uploader.client.patch(path, json={"enabled": True}, headers=ADMIN)
    assert not await queued(account_id)  # enabled already: nothing new to place
    await uploader.client.patch(path, json={"credentials": CREDENTIALS}, headers=ADMIN)
    assert await queued(account_id)
