"""DriveAccount against the real API server and services: register, check, follow, drain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.utils.drive import EmulatorAdmin
from tests.utils.operator import (
    Cluster,
    add_account,
    conditions,
    credentials_secret,
    drive_account,
    wait_ready,
)
from tests.utils.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


async def test_a_valid_secret_makes_a_ready_managed_account(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    # The refresh timer reads the Downloader's figures every 5 s: the create handler may run
    # before the Uploader's event has taught the Downloader the account (404: no usage yet).
    cluster.operator(account_sync_seconds="5")
    name = unique("acct")
    email = (await add_account(cluster, emulator, name, budget="2G")).email
    obj = await wait_ready(cluster, name)
    assert conditions(obj)["CredentialsValid"] == ("True", "DriveAccepted")
    account_id = obj["status"]["uploaderAccountId"]

    account = (await uploader.get(f"/accounts/{account_id}")).json()
    assert account["email"] == email
    assert account["managed_by"] == "fileserver-operator"
    assert account["daily_budget_bytes"] == 2 * 10**9

    # The Downloader learns the account from the Uploader's events; usage follows.
    async def usage() -> None:
        # One read: the condition and the figures come from the same write of the status.
        obj = cluster.get("driveaccount", name) or {}
        status = obj.get("status") or {}
        assert conditions(obj).get("BudgetAvailable", ("",))[0] == "True"
        assert status.get("remainingTodayBytes") == 2 * 10**9
        assert status.get("usedTodayBytes") == 0

    await eventually(usage, within=60)
    table = cluster.kubectl("get", "driveaccounts", f"--namespace={cluster.namespace}")
    header, row = table.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "EMAIL", "BUDGET", "USED-TODAY", "REMAINING", "READY"]
    assert row.split()[:6] == [name, email, "2G", "0", str(2 * 10**9), "True"]

    # People change the resource, not the account: a REST edit is refused, a spec edit lands.
    refused = await uploader.patch(f"/accounts/{account_id}", json={"daily_budget_bytes": 1})
    assert refused.status_code == 409
    assert "DriveAccount" in refused.json()["detail"]
    cluster.kubectl(
        "patch", "driveaccount", name, f"--namespace={cluster.namespace}", "--type=merge",
        "-p", '{"spec":{"dailyDownloadBudget":"3G"}}',
    )  # fmt: skip

    async def budget_followed() -> None:
        got = (await uploader.get(f"/accounts/{account_id}")).json()
        assert got["daily_budget_bytes"] == 3 * 10**9

    await eventually(budget_followed, within=60)


async def test_a_bad_secret_is_explained_and_a_fixed_one_is_picked_up(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    cluster.operator()
    name = unique("acct")
    account = await emulator.create_account()
    bad = credentials_secret(f"{name}-creds", cluster.credentials_namespace, {})
    bad["stringData"] = {"wrong-key": "{}"}
    cluster.apply(bad, drive_account(name, cluster.namespace, account.email, f"{name}-creds"))

    async def explained() -> None:
        obj = cluster.get("driveaccount", name)
        assert conditions(obj).get("CredentialsValid") == ("False", "SecretKeyMissing")
        assert conditions(obj).get("Ready") == ("False", "NotRegistered")
        message = next(
            c["message"] for c in obj["status"]["conditions"] if c["type"] == "CredentialsValid"
        )
        assert "has no key 'credentials.json'" in message

    await eventually(explained, within=60)
    listed = (await uploader.get("/accounts", params={"email": account.email})).json()
    assert listed["items"] == []  # nothing registered without credentials

    # The Secret is fixed: the next refresh (it reads the Secret by name each time) brings the
    # account up without a spec change.
    secrets = f"--namespace={cluster.credentials_namespace}"
    cluster.kubectl("delete", "secret", f"{name}-creds", secrets)
    cluster.apply(
        credentials_secret(f"{name}-creds", cluster.credentials_namespace, account.credentials)
    )
    await wait_ready(cluster, name)


async def test_a_secret_beside_the_driveaccount_is_not_read(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    """The operator may read Secrets only in the credentials namespace: one in the release
    namespace (where the release's tokens and Fernet key live) is never found."""
    first = cluster.operator(account_sync_seconds="2")
    name = unique("acct")
    account = await emulator.create_account()
    cluster.apply(
        credentials_secret(f"{name}-creds", cluster.namespace, account.credentials),
        drive_account(name, cluster.namespace, account.email, f"{name}-creds"),
    )

    async def not_found() -> None:
        obj = cluster.get("driveaccount", name)
        assert conditions(obj).get("CredentialsValid") == ("False", "SecretNotFound")
        message = next(
            c["message"] for c in obj["status"]["conditions"] if c["type"] == "CredentialsValid"
        )
        assert f"namespace {cluster.credentials_namespace!r}" in message

    await eventually(not_found, within=60)
    listed = (await uploader.get("/accounts", params={"email": account.email})).json()
    assert listed["items"] == []
    # RBAC refuses a read in the release namespace outright: a reason of its own, no crash loop.
    first.stop()
    run = cluster.operator(account_sync_seconds="2", credentials_namespace=cluster.namespace)
    other = unique("acct")
    cluster.apply(drive_account(other, cluster.namespace, account.email, f"{name}-creds"))

    async def forbidden() -> None:
        got = conditions(cluster.get("driveaccount", other))
        assert got.get("CredentialsValid") == ("False", "SecretForbidden")
        assert got.get("Ready") == ("False", "NotRegistered")

    await eventually(forbidden, within=60)
    assert "Traceback" not in run.log()


async def test_credentials_drive_refuses_are_reported(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    unique: Callable[[str], str],
) -> None:
    cluster.operator()
    name = unique("acct")
    account = await emulator.create_account()
    await emulator.revoke(account.id)
    cluster.apply(
        credentials_secret(f"{name}-creds", cluster.credentials_namespace, account.credentials),
        drive_account(name, cluster.namespace, account.email, f"{name}-creds"),
    )

    async def refused() -> None:
        got = conditions(cluster.get("driveaccount", name))
        assert got.get("CredentialsValid") == ("False", "DriveRefused")
        assert got.get("Ready") == ("False", "CredentialsInvalid")

    await eventually(refused, within=60)


async def test_a_refresh_that_changes_nothing_does_not_write_the_status(
    cluster: Cluster, emulator: EmulatorAdmin, unique: Callable[[str], str]
) -> None:
    """A refresh every second; once the figures are in, nothing changes, so nothing is
    written: the object's resourceVersion stays. A change is still written at the next one."""
    cluster.operator(account_sync_seconds="1")
    name = unique("quiet")
    account = await add_account(cluster, emulator, name, budget="2G")
    await wait_ready(cluster, name)
    versions: list[str] = []

    async def settled() -> None:
        obj = cluster.get("driveaccount", name) or {}
        assert (obj.get("status") or {}).get("remainingTodayBytes") == 2 * 10**9
        versions.append(str(obj["metadata"]["resourceVersion"]))

    await eventually(settled, within=60)
    await asyncio.sleep(5)  # five refreshes, each reading the same figures
    obj = cluster.get("driveaccount", name) or {}
    assert obj["metadata"]["resourceVersion"] == versions[-1], obj.get("status")

    await emulator.revoke(account.id)  # what the next refresh's credentials check will see

    async def reported() -> None:
        got = cluster.get("driveaccount", name) or {}
        assert conditions(got)["CredentialsValid"][0] == "False", got.get("status")

    await eventually(reported, within=30)
