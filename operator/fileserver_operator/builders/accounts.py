"""DriveAccount rules: credentials from a Secret, the Uploader payloads, the status to write."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apis.common import format_quantity
from apis.driveaccount import DriveAccountSpec
from fileserver_operator.builders.conditions import condition, merge, now

MANAGER_HEADER = "X-Fileserver-Manager"


class CredentialsProblem(Exception):
    """The referenced Secret cannot give credentials; ``reason`` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def secret_forbidden(*, name: str, namespace: str) -> CredentialsProblem:
    """The problem to report when RBAC refuses the operator the named Secret.

    The chart lets the operator ``get`` Secrets in the credentials namespace only, so this means
    the Role is missing there, or the operator was pointed at another namespace.
    """
    return CredentialsProblem(
        "SecretForbidden",
        f"the operator may not read Secret {name!r} in namespace {namespace!r}: it may read "
        "Secrets only in the credentials namespace the chart grants it (operator.credentials."
        "namespace); put the Secret there, or check the operator's Role in that namespace",
    )


def credentials_from_secret(
    secret: dict[str, Any] | None, *, name: str, key: str, namespace: str
) -> dict[str, Any]:
    """The credentials JSON object held under ``key`` of a Secret (its ``data``, base64)."""
    if secret is None:
        raise CredentialsProblem(
            "SecretNotFound", f"Secret {name!r} does not exist in namespace {namespace!r}"
        )
    data = secret.get("data") or {}
    if key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise CredentialsProblem(
            "SecretKeyMissing", f"Secret {name!r} has no key {key!r} (keys: {keys})"
        )
    try:
        value = json.loads(base64.b64decode(data[key], validate=True))
    except (binascii.Error, ValueError):
        raise CredentialsProblem(
            "SecretInvalid", f"key {key!r} of Secret {name!r} is not a JSON document"
        ) from None
    if not isinstance(value, dict) or not value:
        raise CredentialsProblem(
            "SecretInvalid",
            f"key {key!r} of Secret {name!r} must hold a JSON object (an OAuth user token "
            "or a service-account key)",
        )
    return value


def secret_version(secret: dict[str, Any]) -> str:
    """Identifies one content of one Secret: a new Secret or a new value changes it."""
    meta = secret.get("metadata") or {}
    return f"{meta.get('uid', '')}/{meta.get('resourceVersion', '')}"


def create_payload(
    spec: DriveAccountSpec, credentials: dict[str, Any], *, manager: str
) -> dict[str, Any]:
    """``POST /accounts`` body for a DriveAccount."""
    return {
        "email": spec.email,
        "display_name": spec.display_name or "",
        "credentials": credentials,
        "daily_budget_bytes": spec.daily_download_budget,
        "storage_limit_bytes": spec.storage_limit,
        "enabled": spec.enabled,
        "managed_by": manager,
    }


def update_payload(
    spec: DriveAccountSpec, account: dict[str, Any], credentials: dict[str, Any] | None
) -> dict[str, Any]:
    """``PATCH /accounts/{id}`` body: only what differs (credentials only when they changed)."""
    wanted = {
        "display_name": spec.display_name or "",
        "daily_budget_bytes": spec.daily_download_budget,
        "storage_limit_bytes": spec.storage_limit,
        "enabled": spec.enabled,
    }
    changes = {k: v for k, v in wanted.items() if account.get(k) != v}
    if credentials is not None:
        changes["credentials"] = credentials
    return changes


@dataclass(frozen=True)
class Observation:
    """What one sync learnt about an account; ``None`` fields were not observed."""

    generation: int
    spec: DriveAccountSpec
    account: dict[str, Any] | None = None
    """The Uploader's ``AccountRead``."""
    problem: CredentialsProblem | None = None
    conflict: str | None = None
    check: dict[str, Any] | None = None
    """The Uploader's credential check: ``ok``, ``reason``, storage figures."""
    check_error: str | None = None
    figures: dict[str, Any] | None = None
    """The Downloader's ``AccountFigures``."""
    credentials_version: str | None = None


def _credentials_condition(o: Observation) -> dict[str, Any]:
    g = o.generation
    if o.problem is not None:
        return condition(
            "CredentialsValid", False, o.problem.reason, o.problem.message, generation=g
        )
    if o.check is not None and o.check.get("ok"):
        return condition(
            "CredentialsValid",
            True,
            "DriveAccepted",
            "Drive accepted the credentials",
            generation=g,
        )
    if o.check is not None:
        reason = o.check.get("reason") or "Drive refused the credentials"
        return condition("CredentialsValid", False, "DriveRefused", str(reason), generation=g)
    message = o.check_error or "the credentials have not been checked yet"
    return condition("CredentialsValid", None, "NotChecked", message, generation=g)


def _budget_condition(o: Observation) -> dict[str, Any]:
    g = o.generation
    if o.figures is None:
        return condition(
            "BudgetAvailable",
            None,
            "NoFigures",
            "the Downloader has not reported on this account yet",
            generation=g,
        )
    remaining = int(o.figures.get("remaining_today", 0))
    budget = int(o.figures.get("daily_budget_bytes", o.spec.daily_download_budget))
    if remaining > 0:
        return condition(
            "BudgetAvailable",
            True,
            "BudgetLeft",
            f"{format_quantity(remaining)} of {format_quantity(budget)} left today",
            generation=g,
        )
    return condition(
        "BudgetAvailable",
        False,
        "BudgetExhausted",
        "today's download budget is used up; it returns at the next daily rollover",
        generation=g,
    )


def _ready_condition(o: Observation, credentials_ok: bool) -> dict[str, Any]:
    g = o.generation
    if o.conflict is not None:
        return condition("Ready", False, "AccountConflict", o.conflict, generation=g)
    if o.account is None:
        message = o.problem.message if o.problem else "not registered with the Uploader yet"
        return condition("Ready", False, "NotRegistered", message, generation=g)
    if not o.spec.enabled:
        return condition(
            "Ready", False, "Disabled", "spec.enabled is false: no new download URLs", generation=g
        )
    if o.account.get("draining"):
        return condition(
            "Ready", False, "Draining", "the account's replicas are being removed", generation=g
        )
    if not credentials_ok:
        return condition(
            "Ready", False, "CredentialsInvalid", "see the CredentialsValid condition", generation=g
        )
    return condition("Ready", True, "Serving", "in the download pool", generation=g)


def account_status(o: Observation, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The status to write for observation ``o`` over the ``current`` status."""
    current = current or {}
    creds = _credentials_condition(o)
    conditions = merge(
        current.get("conditions"),
        _ready_condition(o, creds["status"] == "True"),
        creds,
        _budget_condition(o),
    )
    status: dict[str, Any] = {
        "observedGeneration": o.generation,
        "conditions": conditions,
        "lastSyncTime": now(),
    }
    if o.account is not None:
        status["uploaderAccountId"] = o.account["id"]
        if "replicas" in o.account:
            status["replicas"] = int(o.account["replicas"])
    if o.figures is not None:
        status["usedTodayBytes"] = int(o.figures.get("issued_today", 0))
        status["remainingTodayBytes"] = int(o.figures.get("remaining_today", 0))
    if o.check is not None and o.check.get("storage_used_bytes") is not None:
        status["storageUsedBytes"] = int(o.check["storage_used_bytes"])
    if o.credentials_version is not None:
        status["credentialsVersion"] = o.credentials_version
    return status


def status_changes(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """What of ``new`` to write over ``current``: the fields that differ, with ``lastSyncTime``;
    nothing when only the time would change (a refresh that finds all as it was)."""
    current = current or {}

    def essence(conditions: Any) -> Any:
        return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions or []]

    changed = {
        key: value
        for key, value in new.items()
        if key != "lastSyncTime"
        and (
            essence(value) != essence(current.get(key))
            if key == "conditions"
            else current.get(key) != value
        )
    }
    if changed and "lastSyncTime" in new:
        changed["lastSyncTime"] = new["lastSyncTime"]
    return changed
