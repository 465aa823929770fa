"""Kubernetes-style conditions: set one, keeping ``lastTransitionTime`` while nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apis.common import ConditionStatus


def now() -> str:
    """The API server's timestamp form (seconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: str,
    ok: bool | None,
    reason: str,
    message: str = "",
    *,
    generation: int | None = None,
) -> dict[str, Any]:
    """One condition; ``ok`` None is ``Unknown``."""
    status = {
        True: ConditionStatus.TRUE,
        False: ConditionStatus.FALSE,
        None: ConditionStatus.UNKNOWN,
    }
    cond: dict[str, Any] = {
        "type": type_,
        "status": status[ok].value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now(),
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def merge(current: list[dict[str, Any]] | None, *updates: dict[str, Any]) -> list[dict[str, Any]]:
    """``current`` with ``updates`` applied; a transition time moves only when the status does."""
    merged = {c["type"]: dict(c) for c in current or []}
    for update in updates:
        old = merged.get(update["type"])
        new = dict(update)
        if old is not None and old.get("status") == new["status"]:
            new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
        merged[update["type"]] = new
    return list(merged.values())


def is_true(conditions: list[dict[str, Any]] | None, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == ConditionStatus.TRUE.value
        for c in conditions or []
    )
