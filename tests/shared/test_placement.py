"""The placement model: replica counts from demand, copies within every account's storage."""

from __future__ import annotations

import random

import pytest

from bench.placement import Day, one_run
from services.shared.placement import AccountRoom, FileDemand, PlacementRules, counts, place

pytestmark = pytest.mark.unit

GB = 10**9


def test_counts_follow_demand_between_the_floor_and_the_pool() -> None:
    rules = PlacementRules(floor=2, replica_cap_bytes=50 * GB, account_share=0.5, headroom=1.5)
    budget = 100 * GB
    assert rules.per_replica_bytes(budget) == 50 * GB  # the per-file cap is the tighter one
    assert rules.per_replica_bytes(20 * GB) == 10 * GB  # half a small account's budget
    assert rules.wanted(0, account_budget=budget, pool=10) == 2  # cold: the floor
    assert rules.wanted(100 * GB, account_budget=budget, pool=10) == 3  # 1.5 × 100 / 50
    assert rules.wanted(1000 * GB, account_budget=budget, pool=10) == 10  # the pool's size
    assert rules.wanted(0, account_budget=budget, pool=1) == 1  # a pool smaller than the floor
    uncapped = PlacementRules(replica_cap_bytes=0)
    assert uncapped.per_replica_bytes(budget) == 50 * GB  # only the budget share is left


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"floor": 0}, "floor"),
        ({"replica_cap_bytes": -1}, "cap"),
        ({"account_share": 0}, "account_share"),
        ({"account_share": 1.5}, "account_share"),
        ({"headroom": 0.5}, "headroom"),
    ],
)
def test_rules_that_make_no_sense_are_refused(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlacementRules(**fields)  # type: ignore[arg-type]


def test_a_catalog_ten_times_one_account_fits_every_limit_with_every_file_at_its_floor() -> None:
    rng = random.Random(7)
    storage = 15 * GB
    accounts = [AccountRoom(f"a{n:02d}", storage, 100 * GB) for n in range(30)]
    files = [
        FileDemand(f"f{n:04d}", int(rng.uniform(0.05, 0.45) * GB), rng.paretovariate(1.2) * GB)
        for n in range(700)
    ]
    catalog = sum(f.size for f in files)
    assert catalog > 10 * storage  # far more than one account holds
    rules = PlacementRules()
    wanted = counts(files, rules=rules, account_budget=100 * GB, pool=len(accounts))
    plan = place(files, accounts, wanted, floor=rules.floor)
    held: dict[str, int] = dict.fromkeys((a.id for a in accounts), 0)
    sizes = {f.id: f.size for f in files}
    for file_id, chosen in plan.accounts.items():
        assert len(chosen) == len(set(chosen))  # distinct accounts: distinct Drive file ids
        assert len(chosen) >= rules.floor
        for account_id in chosen:
            held[account_id] += sizes[file_id]
    assert all(total <= storage for total in held.values())
    assert held == plan.stored
    assert not plan.short
    hottest = max(files, key=lambda f: f.demand)
    assert len(plan.accounts[hottest.id]) == wanted[hottest.id] > rules.floor


def test_copies_stay_where_they_are_and_a_full_pool_says_which_files_are_short() -> None:
    accounts = [AccountRoom(name, 10 * GB, 100 * GB) for name in ("a", "b", "c")]
    files = [
        FileDemand("kept", 4 * GB, 0, held=frozenset({"b", "c"})),
        FileDemand("new", 4 * GB, 0),
        FileDemand("big", 9 * GB, 0),
    ]
    plan = place(files, accounts, {"kept": 2, "new": 2, "big": 2}, floor=2)
    assert sorted(plan.accounts["kept"]) == ["b", "c"]  # no copy moves
    assert plan.copies_made(files[:1]) == 0
    # 30 GB of room: "big" takes 9 on one account, "kept" and "new" 8 on two each; the second
    # copy of "big" no longer fits anywhere.
    assert len(plan.accounts["big"]) == 1
    assert plan.short == {"big": 1}
    assert all(stored <= 10 * GB for stored in plan.stored.values())


def test_a_hot_file_is_spread_over_the_accounts_with_the_most_budget_left() -> None:
    accounts = [AccountRoom(f"a{n}", 100 * GB, 100 * GB) for n in range(4)]
    files = [FileDemand("warm", GB, 90 * GB), FileDemand("hot", GB, 180 * GB)]
    rules = PlacementRules(floor=1, replica_cap_bytes=50 * GB, headroom=1.0)
    wanted = counts(files, rules=rules, account_budget=100 * GB, pool=4)
    assert wanted == {"warm": 2, "hot": 4}
    plan = place(files, accounts, wanted, floor=rules.floor)
    # The hot file's load (45 GB per copy) goes first, on all four accounts; the warm file's
    # two copies then share them without any account promised more than its budget.
    assert sorted(plan.accounts["hot"]) == ["a0", "a1", "a2", "a3"]
    assert len(plan.accounts["warm"]) == 2


def test_the_simulated_day_serves_with_the_demand_placement_what_the_others_do_not() -> None:
    """One small run of bench/placement.py: every placement stays within storage, and the
    shares it reports are what serving the day gave (they differ between placements)."""
    result = one_run(Day(accounts=20, files=120), seed=3)
    figures = result["placements"]
    for name in ("demand", "uniform", "naive"):
        assert 0 < figures[name]["served_share"] <= 1
        assert figures[name]["stored_gb"] <= 20 * 15
    assert figures["naive"]["copies_gb"] > figures["demand"]["copies_gb"]
