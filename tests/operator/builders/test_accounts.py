"""DriveAccount rules: credentials from Secrets, Uploader payloads, conditions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fileserver_operator.builders.accounts import (
    CredentialsProblem,
    Observation,
    account_status,
    create_payload,
    credentials_from_secret,
    secret_version,
    status_changes,
    update_payload,
)

from apis.driveaccount import DriveAccountSpec

pytestmark = pytest.mark.unit

SPEC = DriveAccountSpec.model_validate(
    {
        "email": "a@example.com",
        "credentialsSecretRef": {"name": "drive-a"},
        "dailyDownloadBudget": "2G",
    }
)


def _secret(data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "metadata": {"uid": "u1", "resourceVersion": "7"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def test_credentials_come_from_the_named_key() -> None:
    token = {"type": "authorized_user", "refresh_token": "r"}
    secret = _secret({"credentials.json": json.dumps(token).encode()})
    got = credentials_from_secret(secret, name="drive-a", key="credentials.json", namespace="ns")
    assert got == token
    assert secret_version(secret) == "u1/7"


@pytest.mark.parametrize(
    ("secret", "reason", "words"),
    [
        (None, "SecretNotFound", "does not exist in namespace 'ns'"),
        (_secret({"other": b"{}"}), "SecretKeyMissing", "keys: other"),
        (_secret({"credentials.json": b"not json"}), "SecretInvalid", "not a JSON document"),
        (_secret({"credentials.json": b"[1, 2]"}), "SecretInvalid", "must hold a JSON object"),
    ],
)
def test_bad_secrets_say_what_is_wrong(
    secret: dict[str, Any] | None, reason: str, words: str
) -> None:
    with pytest.raises(CredentialsProblem) as caught:
        credentials_from_secret(secret, name="drive-a", key="credentials.json", namespace="ns")
    assert caught.value.reason == reason
    assert words in caught.value.message


def test_payloads_carry_the_spec_and_only_changes() -> None:
    created = create_payload(SPEC, {"k": "v"}, manager="fileserver-operator")
    assert created["daily_budget_bytes"] == 2 * 10**9
    assert created["managed_by"] == "fileserver-operator"
    assert created["storage_limit_bytes"] == 15 * 10**9  # the spec's default, 15G
    account = {
        "display_name": "",
        "daily_budget_bytes": 10**9,
        "storage_limit_bytes": 15 * 10**9,
        "enabled": True,
    }
    assert update_payload(SPEC, account, None) == {"daily_budget_bytes": 2 * 10**9}
    smaller = {**account, "storage_limit_bytes": None}  # registered before limits existed
    assert update_payload(SPEC, smaller, None)["storage_limit_bytes"] == 15 * 10**9
    same = {**account, "daily_budget_bytes": 2 * 10**9}
    assert update_payload(SPEC, same, None) == {}
    assert update_payload(SPEC, same, {"k": "v"}) == {"credentials": {"k": "v"}}


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_served_account_is_ready_with_its_usage() -> None:
    account = {"id": "abc", "replicas": 4, "draining": False}
    figures = {"issued_today": 5, "remaining_today": 10, "daily_budget_bytes": 15}
    status = account_status(
        Observation(
            3,
            SPEC,
            account=account,
            check={"ok": True, "storage_used_bytes": 9},
            figures=figures,
            credentials_version="u1/7",
        ),
        None,
    )
    assert _conditions(status) == {
        "Ready": ("True", "Serving"),
        "CredentialsValid": ("True", "DriveAccepted"),
        "BudgetAvailable": ("True", "BudgetLeft"),
    }
    assert status["usedTodayBytes"] == 5
    assert status["remainingTodayBytes"] == 10
    assert status["storageUsedBytes"] == 9
    assert status["replicas"] == 4
    assert status["observedGeneration"] == 3
    assert status["uploaderAccountId"] == "abc"


def test_conditions_explain_what_is_missing() -> None:
    problem = CredentialsProblem("SecretNotFound", "Secret 'drive-a' does not exist")
    status = account_status(Observation(1, SPEC, problem=problem), None)
    assert _conditions(status)["CredentialsValid"] == ("False", "SecretNotFound")
    assert _conditions(status)["Ready"] == ("False", "NotRegistered")
    refused = account_status(
        Observation(
            1,
            SPEC,
            account={"id": "x"},
            check={"ok": False, "reason": "invalid_grant"},
            figures={"remaining_today": 0},
        ),
        None,
    )
    assert _conditions(refused)["Ready"] == ("False", "CredentialsInvalid")
    assert _conditions(refused)["BudgetAvailable"] == ("False", "BudgetExhausted")
    messages = {c["type"]: c["message"] for c in refused["conditions"]}
    assert messages["CredentialsValid"] == "invalid_grant"


def test_transition_time_moves_only_with_the_status() -> None:
    first = account_status(Observation(1, SPEC, account={"id": "x"}, check={"ok": True}), None)
    old = {
        c["type"]: {**c, "lastTransitionTime": "2020-01-01T00:00:00Z"} for c in first["conditions"]
    }
    again = account_status(
        Observation(1, SPEC, account={"id": "x"}, check={"ok": True}),
        {"conditions": list(old.values())},
    )
    times = {c["type"]: c["lastTransitionTime"] for c in again["conditions"]}
    assert times["Ready"] == "2020-01-01T00:00:00Z"
    flipped = account_status(
        Observation(1, SPEC, account={"id": "x"}, check={"ok": False, "reason": "no"}),
        {"conditions": list(old.values())},
    )
    times = {c["type"]: c["lastTransitionTime"] for c in flipped["conditions"]}
    assert times["Ready"] != "2020-01-01T00:00:00Z"


def test_a_refresh_that_finds_nothing_new_writes_nothing() -> None:
    account = {"id": "abc", "replicas": 4, "draining": False}
    figures = {"issued_today": 5, "remaining_today": 10, "daily_budget_bytes": 15}

    def observe(used: int) -> Observation:
        return Observation(
            3, SPEC, account=account, figures={**figures, "issued_today": used},
            credentials_version="u1/7",
        )  # fmt: skip

    first = account_status(observe(5), None)
    assert status_changes(first, None) == first  # a new status is written whole
    again = account_status(observe(5), first)
    assert again["lastSyncTime"] is not None
    assert status_changes(again, first) == {}  # only the time moved: no write
    used = account_status(observe(7), first)
    changed = status_changes(used, first)
    assert changed == {"usedTodayBytes": 7, "lastSyncTime": used["lastSyncTime"]}
