"""Properties of the model over generated workloads (hypothesis): it never rewards growth or
punishes a bigger budget, and what it reports adds up."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.planner.model import (
    DAYS_PER_MONTH,
    MAX_USERS,
    FileClass,
    Placement,
    Workload,
    capacity,
    pods_for_budget,
)
from services.planner.plan import plan
from services.planner.profiles import seed_000, seed_001

pytestmark = pytest.mark.unit

GB = 10**9
# No example database: every run draws afresh instead of replaying stored failures.
PROPERTY = settings(database=None, deadline=None, max_examples=150)

users = st.integers(min_value=1, max_value=MAX_USERS)
budgets = st.integers(min_value=GB, max_value=10 * 10**12)


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    """A valid workload: one or two file classes that fit an account, consistent request rate."""
    storage = draw(st.sampled_from([15 * GB, 100 * GB, 2 * 10**12]))
    fill = draw(st.floats(min_value=0.5, max_value=1.0))
    size = st.integers(min_value=10**5, max_value=int(storage * fill))
    video_share = draw(st.sampled_from([0.0, 0.25, 0.4, 0.9]))
    mix: tuple[FileClass, ...]
    if video_share:
        mix = (
            FileClass(name="video", share=video_share, size_bytes=draw(size), streamed=True),
            FileClass(name="other", share=1 - video_share, size_bytes=draw(size)),
        )
    else:
        mix = (FileClass(name="file", share=1.0, size_bytes=draw(size)),)
    downloads = draw(st.floats(min_value=0.01, max_value=1_000))
    active = draw(st.floats(min_value=0.01, max_value=1.0))
    hot_files = draw(st.floats(min_value=0.01, max_value=1.0))
    # Every download needs its URL requests (one per 64 MiB chunk of a streamed file), and the
    # requests per active user a day have a ceiling: skip the mixes that would pass it.
    urls_per_download = sum(
        c.share * (math.ceil(c.size_bytes / 2**26) if c.streamed else 1) for c in mix
    )
    urls = downloads * urls_per_download / DAYS_PER_MONTH / active
    assume(urls <= 10**6)
    base = Workload(
        users=1,
        mix=mix,
        account_storage_bytes=storage,
        storage_fill=fill,
        downloads_per_user_month=downloads,
        active_share=active,
        requests_per_active_user_day=min(10**6, urls * draw(st.floats(1.0, 100.0))),
        hot_file_share=hot_files,
        hot_download_share=draw(st.floats(min_value=hot_files, max_value=1.0)),
    )
    assert base.urls_per_download == pytest.approx(urls_per_download)
    return replace(
        base,
        catalog_files=draw(st.integers(min_value=1, max_value=50_000)),
        placement=draw(st.sampled_from([Placement.AUTO, Placement.DEMAND])),
        min_replicas=draw(st.integers(min_value=1, max_value=5)),
        target_utilisation=draw(st.floats(min_value=0.1, max_value=1.0)),
        max_nodes=draw(st.sampled_from([None, 1, 10])),
    )


@PROPERTY
@given(w=workloads(), a=users, b=users)
def test_more_users_never_need_fewer_accounts(w: Workload, a: int, b: int) -> None:
    few, many = sorted((a, b))
    small = capacity(replace(w, users=few))
    large = capacity(replace(w, users=many))
    assert small.pool.accounts <= large.pool.accounts
    assert small.pool.accounts_by_bandwidth <= large.pool.accounts_by_bandwidth
    assert small.nodes_needed <= large.nodes_needed
    assert small.pods.downloader <= large.pods.downloader


@PROPERTY
@given(w=workloads(), n=users, a=budgets, b=budgets)
def test_more_budget_per_account_never_needs_more_accounts(
    w: Workload, n: int, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    tight = capacity(replace(w, users=n, account_daily_budget_bytes=low)).pool
    loose = capacity(replace(w, users=n, account_daily_budget_bytes=high)).pool
    assert loose.accounts <= tight.accounts
    assert loose.hot_file_replicas <= tight.hot_file_replicas


@PROPERTY
@given(profile=st.sampled_from([seed_000, seed_001]), a=users, b=users)
def test_seed_profiles_grow_monotonically(
    profile: Callable[[int], Workload], a: int, b: int
) -> None:
    few, many = sorted((a, b))
    small, large = plan(profile(few)), plan(profile(many))
    assert small.capacity.pool.accounts <= large.capacity.pool.accounts
    assert small.total_usd_month <= large.total_usd_month + 1e-6


@PROPERTY
@given(w=workloads(), n=users)
def test_the_pool_carries_the_traffic_within_its_limits(w: Workload, n: int) -> None:
    cap = capacity(replace(w, users=n))
    pool = cap.pool
    # Accounts cover the bandwidth at the target share, and the larger requirement wins.
    assert pool.accounts * w.effective_budget_bytes >= cap.traffic.download_bytes_per_day
    assert pool.accounts == max(
        pool.accounts_by_bandwidth, pool.accounts_by_storage, pool.hot_file_replicas
    )
    assert pool.budget_utilisation <= w.target_utilisation + 1e-9
    assert pool.storage_utilisation <= w.storage_fill + 1e-9
    # Every file has at least the minimum number of copies, on distinct accounts.
    assert pool.copies >= pool.files * w.min_replicas
    assert pool.hot_file_replicas <= pool.accounts
    # The bottleneck is the component closest to (or past) its limit.
    assert cap.bottleneck.utilisation == max(c.utilisation for c in cap.components)


@PROPERTY
@given(w=workloads(), n=users)
def test_costs_add_up(w: Workload, n: int) -> None:
    p = plan(replace(w, users=n))
    assert p.total_usd_month == pytest.approx(sum(c.usd_month for c in p.costs))
    assert all(c.usd_month >= 0 for c in p.costs)
    assert {c.component for c in p.costs} == {c.name for c in p.capacity.components}
    assert p.cheapest.usd_month == min(d.usd_month for d in p.delivery)


@PROPERTY
@given(a=st.floats(0, 1e17), b=st.floats(0, 1e17), size=st.integers(1, 10**12))
def test_a_bigger_pool_budget_never_scales_down(a: float, b: float, size: int) -> None:
    low, high = sorted((a, b))
    small = pods_for_budget(low, mean_download_bytes=size)
    large = pods_for_budget(high, mean_download_bytes=size)
    assert small.downloader <= large.downloader
    assert small.stats <= large.stats
