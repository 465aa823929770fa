"""Scaling rule: replicas of each service from the pool's daily budget, with hysteresis.

The arithmetic is the capacity planner's (``services.planner.model.pods_for_budget``): the
Downloader and Stats are sized so the whole daily budget can be handed out at the peak factor
times the average rate, and live backlogs raise the counts. This module adds what a controller
needs on top: bounds, and a delay before going down so that a budget that dips for a minute
(an account briefly not Ready) does not make pods come and go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from services.planner.model import CAPACITIES, Capacities, LiveSignals, PodCounts, pods_for_budget

ANNOTATION = "fileserver.io/scaling"
"""Deployment annotation holding the pending scale-down, so a new leader keeps the delay."""


@dataclass(frozen=True)
class Rule:
    """The operator's scaling settings."""

    min_replicas: int = 1
    max_replicas: int = 20
    peak_factor: float = 3.0
    target_utilisation: float = 0.8
    scale_down_delay_seconds: float = 300.0
    capacities: Capacities = CAPACITIES

    @classmethod
    def with_capacities(cls, overrides: dict[str, float | None], **kwargs: Any) -> Rule:
        """A rule whose per-pod capacities take the given (non-None) overrides."""
        set_ = {k: v for k, v in overrides.items() if v is not None}
        return cls(capacities=replace(CAPACITIES, **set_), **kwargs)


def wanted_pods(
    rule: Rule,
    *,
    pool_daily_bytes: int,
    mean_download_bytes: float,
    signals: LiveSignals | None = None,
) -> dict[str, int]:
    """Replicas per service (uploader, downloader, stats), within the rule's bounds."""
    counts: PodCounts = pods_for_budget(
        float(pool_daily_bytes),
        mean_download_bytes=max(1.0, mean_download_bytes),
        peak_factor=rule.peak_factor,
        signals=signals,
        capacities=rule.capacities,
        target_utilisation=rule.target_utilisation,
        min_pods=rule.min_replicas,
    )
    raw = {"uploader": counts.uploader, "downloader": counts.downloader, "stats": counts.stats}
    return {k: min(rule.max_replicas, max(rule.min_replicas, v)) for k, v in raw.items()}


@dataclass(frozen=True)
class Decision:
    """What to do with one Deployment now."""

    replicas: int
    """The count to set (the current one when nothing changes)."""
    lower_since: float | None
    """When a lower count was first wanted, while a scale-down waits; None otherwise."""
    reason: str

    @property
    def annotation(self) -> str:
        return json.dumps({"lowerSince": self.lower_since}, separators=(",", ":"))


def parse_annotation(value: str | None) -> float | None:
    """``lowerSince`` of a Deployment's scaling annotation (None if absent or unreadable)."""
    try:
        data = json.loads(value or "{}")
        since = data.get("lowerSince") if isinstance(data, dict) else None
    except ValueError:
        return None
    return float(since) if isinstance(since, int | float) else None


def decide(
    *, current: int, wanted: int, lower_since: float | None, now: float, rule: Rule
) -> Decision:
    """Up at once; down only after a lower count has been wanted for the whole delay."""
    if wanted > current:
        return Decision(wanted, None, f"scaled up from {current} to {wanted}")
    if wanted == current:
        return Decision(current, None, "steady")
    since = lower_since if lower_since is not None else now
    if now - since >= rule.scale_down_delay_seconds:
        return Decision(wanted, None, f"scaled down from {current} to {wanted}")
    return Decision(current, since, f"{wanted} wanted since {since:.0f}; waiting before going down")
