"""Inputs the model cannot plan for are refused with a message naming the input and its range."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from services.planner.model import (
    FileClass,
    LiveSignals,
    NodeType,
    Placement,
    PlanError,
    ServiceLoads,
    pods_for_budget,
    replicas_needed,
)
from services.planner.prices import PRICES
from services.planner.profiles import seed_000, seed_001

pytestmark = pytest.mark.unit

GB = 10**9


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": -5}, r"users must be at least 1 and at most 10,000,000,000 \(got -5\)"),
        ({"users": 0}, "users must be at least 1"),
        ({"users": 10**11}, "more than people on Earth"),
        ({"users": 2.5}, r"users must be a whole number \(got 2.5\)"),
        ({"users": True}, "users must be a finite number"),
        ({"active_share": 0}, "active share must be greater than 0"),
        ({"active_share": 1.5}, "active share must be greater than 0 and at most 1"),
        ({"active_share": math.nan}, "active share must be a finite number"),
        ({"downloads_per_user_month": -1}, "downloads per user month must be greater than 0"),
        ({"peak_factor": 0.5}, "peak factor must be at least 1"),
        ({"peak_factor": 1_000}, "peak factor must be at least 1 and at most 100"),
        ({"account_daily_budget_bytes": -100 * GB}, "account daily budget bytes must be greater"),
        ({"account_daily_budget_bytes": 10**18}, "account daily budget bytes .* at most"),
        ({"target_utilisation": 1.5}, "target utilisation must be greater than 0 and at most 1"),
        ({"min_replicas": 0}, "min replicas must be at least 1"),
        ({"catalog_files": 10.5}, "catalog files must be a whole number"),
        ({"retention_days": 10**6}, "retention days must be at least 1 and at most 36,500"),
        ({"max_nodes": 0}, "max nodes must be at least 1"),
        ({"hot_download_share": 0.1}, "hot download share must be at least 0.2.*their share"),
        ({"mix": ()}, "at least one file class"),
        (
            {"mix": (FileClass(name="a", share=0.5, size_bytes=GB),)},
            r"shares must add up to 1 \(they add up to 0.5\)",
        ),
        (
            {"mix": (FileClass(name="a", share=0.5, size_bytes=GB),) * 2},
            "file class names must differ",
        ),
        (
            {"mix": (FileClass(name="big", share=1.0, size_bytes=14 * GB),)},
            "files of class 'big' .* do not fit in an account's usable storage",
        ),
        (
            {"requests_per_active_user_day": 0.1},
            "fewer than the URL requests the downloads need",
        ),
        ({"placement": Placement.ALL, "catalog_files": 1_000}, "placement 'all' .* use 'demand'"),
    ],
)
def test_bad_workloads_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        replace(seed_001(1_000), **changes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"share": 0}, "share of file class 'x' must be greater than 0"),
        ({"size_bytes": 6 * 10**12}, "Drive stores no file larger than 5 TB"),
        ({"size_bytes": 0}, "size of file class 'x'"),
        ({"name": " "}, "needs a name"),
    ],
)
def test_bad_file_classes_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        FileClass(**{"name": "x", "share": 1.0, "size_bytes": GB, **kwargs})


def test_bad_nodes_are_refused() -> None:
    with pytest.raises(PlanError, match="node vCPUs must be greater than 0"):
        NodeType(name="n", vcpu=0, memory_bytes=GB)
    with pytest.raises(PlanError, match="node memory"):
        NodeType(name="n", vcpu=1, memory_bytes=-1)


def test_the_seed_profiles_are_valid_at_every_scale() -> None:
    for users in (1, 1_000, 10**6, 10**9, 10**10):
        assert seed_000(users).users == seed_001(users).users == users


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: pods_for_budget(-1, mean_download_bytes=GB),
            "pool daily bytes must be at least 0",
        ),
        (
            lambda: pods_for_budget(GB, mean_download_bytes=0),
            "mean download bytes must be at least 1",
        ),
        (lambda: pods_for_budget(GB, mean_download_bytes=GB, peak_factor=0), "peak factor"),
        (
            lambda: pods_for_budget(
                GB, mean_download_bytes=GB, signals=LiveSignals(stats_queue_depth=-1)
            ),
            "stats queue depth must be at least 0",
        ),
        (
            lambda: pods_for_budget(GB, mean_download_bytes=GB, signals=LiveSignals(api_rps=-3)),
            "api rps must be at least 0",
        ),
        (
            lambda: pods_for_budget(
                GB, mean_download_bytes=GB, signals=LiveSignals(drain_seconds=0)
            ),
            "drain seconds must be greater than 0",
        ),
        (lambda: replicas_needed(ServiceLoads(), target_utilisation=0), "target utilisation"),
    ],
)
def test_bad_scaling_inputs_are_refused(call: Any, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        call()


def test_no_drive_plan_holds_more_than_the_largest() -> None:
    assert PRICES.drive_plan_for(15 * GB).price.usd == 0
    assert PRICES.drive_plan_for(150 * GB).name == "Google One 200 GB"
    with pytest.raises(PlanError, match="no Drive plan in the price table has 3,000 GB"):
        PRICES.drive_plan_for(3 * 10**12)
