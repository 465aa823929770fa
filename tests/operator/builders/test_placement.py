"""Demand-driven placement in the operator: the count and the reason a FileReplica shows."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from fileserver_operator.builders.placement import Decision, daily_rate, decide
from fileserver_operator.builders.replicas import replica_status

pytestmark = pytest.mark.unit

GB = 10**9
DEMAND = {"demandDriven": True, "mode": "All"}


def test_todays_bytes_are_read_as_a_daily_rate_of_at_least_an_hour() -> None:
    midnight = time(0, 0)
    noon = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert daily_rate(10 * GB, noon, midnight) == pytest.approx(20 * GB)
    early = datetime(2026, 12, 4, 0, 1, tzinfo=UTC)
    assert daily_rate(GB, early, midnight) == pytest.approx(24 * GB)  # one hour's worth


def _decide(placement: dict[str, Any], demand: float, pool: int = 10) -> Decision:
    return decide(
        placement,
        demand=demand,
        pool=pool,
        account_budget=100 * GB,
        default_floor=2,
        replica_cap_bytes=50 * GB,
    )


def test_the_count_follows_demand_from_the_floor_to_the_pool() -> None:
    assert _decide(DEMAND, 0).replicas == 2
    hot = _decide(DEMAND, 200 * GB)
    assert hot.replicas == 6  # 1.5 x 200 GB / 50 GB a replica
    assert hot.reason == "DemandDriven"
    assert "200.0 GB a day" in hot.message
    assert "floor 2, pool 10" in hot.message
    assert _decide(DEMAND, 10_000 * GB).replicas == 10
    assert _decide({**DEMAND, "mode": "Count", "replicas": 4}, 0).replicas == 4  # its own floor


def test_a_floor_above_the_pool_or_no_pool_changes_nothing_and_says_why() -> None:
    refused = _decide({**DEMAND, "mode": "Count", "replicas": 12}, 0)
    assert refused.replicas is None
    assert refused.reason == "FloorAbovePool"
    assert "12 is more than the 10 accounts" in refused.message
    empty = _decide(DEMAND, GB, pool=0)
    assert (empty.replicas, empty.reason) == (None, "NoAccounts")


def _status(file: dict[str, Any], placement: dict[str, Any], decision: Decision | None) -> Any:
    return replica_status(
        file,
        account_names={},
        eligible_accounts=5,
        generation=3,
        placement=placement,
        current={"observedGeneration": 2},
        decision=decision,
    )


def test_status_shows_the_demand_count_and_why_and_observes_the_generation_once_applied() -> None:
    file = {"id": "f", "status": "uploaded", "desired_replicas": 3, "replicas": []}
    decision = _decide(DEMAND, 100 * GB)
    assert decision.replicas == 3
    status = _status(file, DEMAND, decision)
    placed = next(c for c in status["conditions"] if c["type"] == "Placed")
    assert (placed["status"], placed["reason"]) == ("True", "DemandDriven")
    assert status["desiredReplicas"] == 3
    assert status["observedGeneration"] == 3
    # Not applied yet (the Uploader still has another count): the generation is not observed.
    waiting = _status({**file, "desired_replicas": None}, DEMAND, decision)
    assert waiting["observedGeneration"] == 2
    refused = _status(file, DEMAND, Decision(None, "FloorAbovePool", "too many"))
    placed = next(c for c in refused["conditions"] if c["type"] == "Placed")
    assert (placed["status"], placed["reason"]) == ("False", "FloorAbovePool")
    # Back to a fixed placement: the condition goes.
    fixed = replica_status(
        file,
        account_names={},
        eligible_accounts=5,
        generation=4,
        placement={"mode": "Count", "replicas": 3},
        current=status,
    )
    assert all(c["type"] != "Placed" for c in fixed["conditions"])
    assert fixed["observedGeneration"] == 4
