"""Demo Drive accounts: created in the emulator and registered with the Uploader.

They let the local system serve downloads with no Google account; the Uploader receives their
credentials through its API like any other account's (write-only, encrypted at rest).
"""

from __future__ import annotations

import httpx

from fileserver.devstack.errors import DevstackError
from fileserver.system.system import LocalSystem


def ensure_demo_accounts(system: LocalSystem, count: int, budget_bytes: int) -> list[str]:
    """Make sure ``demo-0 … demo-<count-1>`` exist in the Uploader; returns their emails."""
    uploader = system.service("uploader")
    emulator = system.service("drive-emulator")
    admin = {"Authorization": f"Bearer {system.secrets.uploader_admin_token}"}
    emulator_admin = {"Authorization": f"Bearer {system.secrets.emulator_admin_token}"}
    with httpx.Client(timeout=30) as http:
        listed = http.get(f"{uploader.url}/accounts", params={"limit": 1000}, headers=admin)
        _check(listed, "listing the Uploader's accounts")
        known = {a["email"] for a in listed.json()["items"]}
        emails = [f"demo-{i}@fileserver.local" for i in range(count)]
        for email in emails:
            if email in known:
                continue
            created = http.post(
                f"{emulator.url}/_emulator/accounts",
                json={
                    "email": email,
                    "display_name": email.split("@")[0],
                    "limits": {"download_bytes_per_day": budget_bytes},
                },
                headers=emulator_admin,
            )
            _check(created, f"creating {email} in the Drive emulator")
            registered = http.post(
                f"{uploader.url}/accounts",
                json={
                    "email": email,
                    "display_name": email.split("@")[0],
                    "credentials": created.json()["credentials"],
                    "daily_budget_bytes": budget_bytes,
                },
                headers=admin,
            )
            _check(registered, f"registering {email} with the Uploader")
    return emails


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise DevstackError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")
