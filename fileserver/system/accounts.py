"""Demo Drive accounts: created in the emulator and registered with the Uploader.

They let the system serve downloads with no Google account; the Uploader receives their
credentials through its API like any other account's (write-only, encrypted at rest). On the
cluster (``up --cluster``) they are Secrets and DriveAccounts the operator registers instead.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from fileserver.devstack.errors import DevstackError
from fileserver.system import kube
from fileserver.system.cluster import ClusterSystem, System

READY_TIMEOUT = 300.0
CLUSTER_DOMAIN = "cluster.fileserver.local"


def ensure_demo_accounts(system: System, count: int, budget_bytes: int) -> list[str]:
    """Make sure ``demo-0 … demo-<count-1>`` exist in the Uploader; returns their emails."""
    if isinstance(system, ClusterSystem):
        return ensure_demo_drive_accounts(system, count, budget_bytes)
    uploader_url = system.url("uploader")
    admin = {"Authorization": f"Bearer {system.secrets.uploader_admin_token}"}
    with httpx.Client(timeout=30) as http:
        known = {a["email"] for a in _uploader_accounts(system, http)}
        emails = [f"demo-{i}@fileserver.local" for i in range(count)]
        for email in emails:
            if email in known:
                continue
            registered = http.post(
                f"{uploader_url}/accounts",
                json={
                    "email": email,
                    "display_name": email.split("@")[0],
                    "credentials": _emulator_account(system, http, email, budget_bytes),
                    "daily_budget_bytes": budget_bytes,
                },
                headers=admin,
            )
            _check(registered, f"registering {email} with the Uploader")
    return emails


def ensure_demo_drive_accounts(system: ClusterSystem, count: int, budget_bytes: int) -> list[str]:
    """The demo accounts as Secrets and DriveAccounts; returns once the operator made them Ready.

    Their emails (``demo-N@cluster.fileserver.local``) differ from those ``up`` without
    ``--cluster`` registers through the API, so that the two kinds never meet in one emulator.
    """
    tools = system.kube_tools()
    namespace = system.settings.namespace
    existing = {d["metadata"]["name"] for d in kube.items(tools, "driveaccounts", namespace)}
    names = [f"demo-{i}" for i in range(count)]
    with httpx.Client(timeout=30) as http:
        for name in names:
            if name in existing:
                continue
            email = f"{name}@{CLUSTER_DOMAIN}"
            credentials = _emulator_account(system, http, email, budget_bytes)
            tools.apply(
                kube.credentials_secret(
                    f"{name}-credentials", kube.credentials_namespace(namespace), credentials
                ),
                kube.drive_account(
                    name,
                    namespace,
                    email,
                    f"{name}-credentials",
                    str(budget_bytes),
                    displayName=name,
                ),
            )
    _wait_ready(system, tools, names)
    return [f"{name}@{CLUSTER_DOMAIN}" for name in names]


def _wait_ready(system: ClusterSystem, tools: kube.KubeTools, names: list[str]) -> None:
    def not_ready() -> list[str]:
        found = {
            d["metadata"]["name"]: d
            for d in kube.items(tools, "driveaccounts", system.settings.namespace)
        }
        return [n for n in names if kube.conditions(found.get(n)).get("Ready", ("",))[0] != "True"]

    try:
        Retrying(
            stop=stop_after_delay(READY_TIMEOUT),
            wait=wait_fixed(1),
            retry=retry_if_result(bool),
        )(not_ready)
    except RetryError as exc:
        raise DevstackError(
            f"DriveAccounts {', '.join(not_ready())} not Ready within {READY_TIMEOUT:.0f}s; "
            f"last lines of the operator's log:\n{system.operator_log_tail()}"
        ) from exc


def _uploader_accounts(system: System, http: httpx.Client) -> list[dict[str, Any]]:
    listed = http.get(
        f"{system.url('uploader')}/accounts",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {system.secrets.uploader_admin_token}"},
    )
    _check(listed, "listing the Uploader's accounts")
    accounts: list[dict[str, Any]] = listed.json()["items"]
    return accounts


def _emulator_account(
    system: System, http: httpx.Client, email: str, budget_bytes: int
) -> dict[str, Any]:
    """A new account in the Drive emulator; returns its credentials JSON."""
    created = http.post(
        f"{system.url('drive-emulator')}/_emulator/accounts",
        json={
            "email": email,
            "display_name": email.split("@")[0],
            "limits": {"download_bytes_per_day": budget_bytes},
        },
        headers={"Authorization": f"Bearer {system.secrets.emulator_admin_token}"},
    )
    _check(created, f"creating {email} in the Drive emulator")
    credentials: dict[str, Any] = created.json()["credentials"]
    return credentials


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise DevstackError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")
