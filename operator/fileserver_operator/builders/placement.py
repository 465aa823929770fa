"""Demand-driven placement: the replica count of a FileReplica with ``demandDriven: true``.

The count comes from the shared model (:mod:`services.shared.placement`): the file's demand, as
the Downloader measured it today (bytes handed out so far, as a daily rate), against what one
replica can serve. The floor is ``placement.replicas`` when set, else the operator's
``placement_floor``; the ceiling is the pool of accounts that can take replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from services.shared.days import budget_day, day_start
from services.shared.placement import PlacementRules

GB = 10**9
MIN_SPAN = timedelta(hours=1)
"""Early in a day, today's bytes are read as at least an hour's worth: a few downloads at
00:01 do not stand for a day of demand."""


@dataclass(frozen=True)
class Decision:
    """The count to apply, or why there is none."""

    replicas: int | None
    reason: str
    message: str


def daily_rate(bytes_today: int, now: datetime, rollover: time) -> float:
    """Today's bytes so far as bytes a day."""
    elapsed = now - day_start(budget_day(now, rollover), rollover)
    return bytes_today * (timedelta(days=1) / max(elapsed, MIN_SPAN))


def is_demand_driven(placement: Mapping[str, Any] | None) -> bool:
    return bool((placement or {}).get("demandDriven"))


def decide(
    placement: Mapping[str, Any] | None,
    *,
    demand: float,
    pool: int,
    account_budget: int,
    default_floor: int,
    replica_cap_bytes: int,
) -> Decision:
    """The count for one demand-driven file, with the reason its status shows."""
    placement = placement or {}
    floor = int(placement.get("replicas") or default_floor)
    if pool == 0:
        return Decision(None, "NoAccounts", "no account can take replicas")
    if floor > pool:
        return Decision(
            None,
            "FloorAbovePool",
            f"placement.replicas {floor} is more than the {pool} accounts that can take "
            "replicas: lower it or add accounts (nothing was changed)",
        )
    rules = PlacementRules(floor=floor, replica_cap_bytes=replica_cap_bytes)
    wanted = rules.wanted(demand, account_budget=account_budget, pool=pool)
    per_replica = rules.per_replica_bytes(account_budget)
    message = (
        f"{wanted} replicas for {demand / GB:.1f} GB a day of demand "
        f"({rules.headroom:g} x demand / {per_replica / GB:.1f} GB a replica serves), "
        f"floor {floor}, pool {pool}"
    )
    return Decision(wanted, "DemandDriven", message)
