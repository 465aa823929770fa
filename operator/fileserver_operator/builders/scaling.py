"""Scaling rule: replicas of each service from the pool's daily budget, with hysteresis.

The arithmetic is the capacity planner's (``services.planner.model.pods_for_budget``): the
Downloader and Stats are sized so the whole daily budget can be handed out at the peak factor
times the average rate, and live backlogs raise the counts. The replication workers follow the
Uploader's queue: the bytes its waiting jobs move (the planner's worker throughput) or their
number (``worker_queue_per_pod`` jobs a pod), whichever wants more. This module adds what a
controller needs on top: bounds per service (the chart's HA floor is the floor), and a delay
before going down so that a budget that dips for a minute (an account briefly not Ready) does
not make pods come and go.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    min_by_service: Mapping[str, int] = field(default_factory=dict)
    """Floors of single services (the chart's replicas values); others take ``min_replicas``."""
    max_by_service: Mapping[str, int] = field(default_factory=dict)
    worker_queue_per_pod: float = 32.0
    """Waiting Uploader jobs one replication worker pod is sized for."""

    def bounds(self, service: str) -> tuple[int, int]:
        """(floor, ceiling) of one service."""
        return (
            self.min_by_service.get(service, self.min_replicas),
            self.max_by_service.get(service, self.max_replicas),
        )

    def bounded(self, service: str, pods: int) -> int:
        low, high = self.bounds(service)
        return min(high, max(low, pods))

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
    queued_jobs: float = 0.0,
) -> dict[str, int]:
    """Replicas per service (uploader, downloader, stats, uploader-worker), each within its bounds.

    ``queued_jobs`` is the depth of the Uploader's arq queue: a backlog of many small jobs moves
    few bytes yet still needs hands, so the workers are also sized by the count of waiting jobs.
    """
    counts: PodCounts = pods_for_budget(
        float(pool_daily_bytes),
        mean_download_bytes=max(1.0, mean_download_bytes),
        peak_factor=rule.peak_factor,
        signals=signals,
        capacities=rule.capacities,
        target_utilisation=rule.target_utilisation,
        min_pods=0,  # the floors are per service, applied below
    )
    by_queue = math.ceil(max(0.0, queued_jobs) / rule.worker_queue_per_pod)
    raw = {
        "uploader": counts.uploader,
        "downloader": counts.downloader,
        "stats": counts.stats,
        "uploader-worker": max(counts.replication_workers, by_queue),
    }
    return {service: rule.bounded(service, pods) for service, pods in raw.items()}


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


def raise_to_floor(*, current: int, service: str, rule: Rule) -> Decision | None:
    """The scale-up a Deployment below its service's floor needs now; None if it is not below.

    Kubernetes creates a Deployment without ``spec.replicas`` at one replica, and an upgrade
    from a chart that set the field resets it to one: neither waits for the scaling timer.
    """
    floor = rule.bounds(service)[0]
    if current >= floor:
        return None
    return Decision(floor, None, f"raised from {current} to the floor of {floor}")
