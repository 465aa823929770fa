"""The capacity model against cases computed by hand from the seeds' figures."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from services.planner.model import (
    DAYS_PER_MONTH,
    LiveSignals,
    Placement,
    PodCounts,
    ServiceLoads,
    capacity,
    pods_for_budget,
    replicas_needed,
    traffic,
)
from services.planner.model import (
    breaking_points as growth,
)
from services.planner.profiles import seed_000, seed_001

pytestmark = pytest.mark.unit

GB, TB = 10**9, 10**12


def test_seed_001_needs_165_accounts_at_full_use_and_206_at_80_percent() -> None:
    # 1,000,000 users × 500 MB a month = 500 TB a month; a month is 30.4375 days.
    daily = 10**6 * 500 * 10**6 / 30.4375
    assert daily == pytest.approx(16.43e12, rel=1e-3)  # "about 16.4 TB a day"
    assert traffic(seed_001(10**6)).download_bytes_per_day == pytest.approx(daily)

    full = capacity(replace(seed_001(10**6), target_utilisation=1.0)).pool
    assert full.accounts_by_bandwidth == math.ceil(daily / (100 * GB)) == 165

    healthy = capacity(seed_001(10**6)).pool
    assert healthy.accounts == math.ceil(daily / (80 * GB)) == 206
    assert 200 <= healthy.accounts <= 215  # the design's "~210 at a healthy 80 %"
    assert healthy.budget_utilisation == pytest.approx(daily / (206 * 100 * GB))


def test_seed_001_puts_every_file_on_every_account() -> None:
    pool = capacity(seed_001(10**6)).pool
    assert pool.placement is Placement.ALL
    assert pool.copies == 100 * 206  # 100 files on each of 206 accounts
    assert pool.storage_utilisation == pytest.approx(10 * GB / (15 * GB))
    # At 1,000 users one account has bandwidth enough, but a file needs two copies.
    small = capacity(seed_001(1_000)).pool
    assert (small.accounts_by_bandwidth, small.accounts) == (1, 2)


def test_replication_upload_once_against_naive() -> None:
    cap = capacity(seed_001(10**6))
    api_out = 10**6 * 0.2 * 5 * DAYS_PER_MONTH * 1_000  # requests a month × 1 kB
    new = 10 * GB  # the whole 10 GB catalog, renewed once a month
    r = cap.replication
    assert r.upload_once_bytes_month == pytest.approx(new)
    assert r.naive_bytes_month == pytest.approx(new * 206)
    assert cap.egress_bytes_month == pytest.approx(api_out + new)
    # The design's warning: uploading every copy, 5 TB buys only ~24 GB of new content a month.
    assert r.max_new_bytes_month_naive == pytest.approx((5 * TB - api_out) / 206)
    assert 23 * GB < (r.max_new_bytes_month_naive or 0) < 25 * GB
    assert r.max_new_bytes_month_upload_once == pytest.approx(5 * TB - api_out)


def test_seed_000_at_1000_users_is_bound_by_storage() -> None:
    cap = capacity(seed_000(1_000))
    pool = cap.pool
    # 1,000 users × one 10 GB file a month → 328.5 GB a day → 5 accounts at 80 GB each.
    assert pool.accounts_by_bandwidth == math.ceil(1_000 * 10 * GB / DAYS_PER_MONTH / (80 * GB))
    assert pool.accounts_by_bandwidth == 5
    # 20,000 files × 2 copies, 180 files of 10 GB in 90 % of a 2 TB account, per class:
    # video 8,000 × 2 / 180 → 89 accounts, other 12,000 × 2 / 180 → 134.
    assert pool.placement is Placement.DEMAND
    assert pool.copies == 40_000
    assert pool.accounts_by_storage == 89 + 134 == pool.accounts
    assert cap.bottleneck.name == "drive-pool"
    assert cap.bottleneck.binding.name == "storage"


def test_seed_000_hot_files_and_request_rates() -> None:
    cap = capacity(seed_000(10**9))
    # Hot video: 20 % of 8,000 files get 80 % of the video class's bytes.
    video_daily = 10**9 * 0.4 * 10 * GB / DAYS_PER_MONTH
    per_hot_file = video_daily * 0.8 / 1_600
    assert cap.pool.hot_file_replicas == math.ceil(per_hot_file / (80 * GB))
    # 1,000 requests per user a day, three times the average in the busiest hour.
    assert cap.traffic.peak_api_rps == pytest.approx(10**12 / 86_400 * 3)
    assert cap.pods.downloader == math.ceil(10**12 / 86_400 * 3 / (1_200 * 0.8))
    # A streamed 10 GB video takes 150 URLs of 64 MiB; other files take one.
    assert capacity(seed_000(1_000)).workload.urls_per_download == pytest.approx(
        0.4 * math.ceil(10 * GB / 2**26) + 0.6
    )


def test_pods_follow_the_load_with_headroom() -> None:
    pods = replicas_needed(
        ServiceLoads(
            api_rps=2_400,
            upload_bytes_per_s=1e8,
            stats_events_per_s=4_001,
            replicate_bytes_per_s=0,
        )
    )
    # Each pod at most 80 % busy: 2,400 / 960, 1e8 / (11.7 MiB/s × 0.8), 4,001 / 4,000, and one
    # at least.
    assert pods == PodCounts(uploader=11, downloader=3, stats=2, replication_workers=1)


def test_operator_scaling_rule_from_the_pool_budget() -> None:
    # 100,000 accounts × 100 GB = 10 PB a day of 100 MB files → 1e8 URLs a day → 3,472/s at peak.
    budget = 100_000 * 100 * GB
    pods = pods_for_budget(budget, mean_download_bytes=100 * 10**6)
    peak = 1e8 / 86_400 * 3
    assert pods.downloader == math.ceil(peak / 960) == 4
    assert pods.stats == 1
    # Live signals only raise the counts: more requests than the budget, a stats backlog.
    busier = pods_for_budget(
        budget,
        mean_download_bytes=100 * 10**6,
        signals=LiveSignals(api_rps=10_000, stats_queue_depth=3_000_000, drain_seconds=300),
    )
    assert busier.downloader == math.ceil(10_000 / 960) == 11
    assert busier.stats == math.ceil((peak + 10_000) / 4_000) == 4
    quiet = pods_for_budget(budget, mean_download_bytes=100 * 10**6, signals=LiveSignals())
    assert quiet == pods
    assert pods_for_budget(0, mean_download_bytes=1) == PodCounts(1, 1, 1, 1)


def test_the_planner_and_the_operator_rule_agree() -> None:
    # The pods the planner gives seed 001 at 1 B users are the pods the operator's rule gives
    # for the same traffic (its URL rate equals the API rate when 1 request = 1 URL).
    w = replace(seed_001(10**9), requests_per_active_user_day=5 / DAYS_PER_MONTH / 0.2)
    cap = capacity(w)
    rule = pods_for_budget(
        cap.traffic.download_bytes_per_day,
        mean_download_bytes=w.mean_file_bytes,
        peak_factor=w.peak_factor,
        target_utilisation=w.target_utilisation,
    )
    assert (rule.downloader, rule.stats) == (cap.pods.downloader, cap.pods.stats)


def test_bottleneck_moves_with_scale() -> None:
    assert capacity(seed_001(10**6)).bottleneck.name == "drive-pool"
    big = capacity(seed_001(10**9))
    assert big.bottleneck.name == "operator"  # refreshing 205 k accounts: more than it can
    assert big.nodes == 1 < big.nodes_needed
    assert big.bottleneck.utilisation > 1


def test_breaking_points_are_where_utilisation_crosses_one() -> None:
    w = seed_001(1_000)
    points = growth(w)
    assert [p.users for p in points] == sorted(p.users for p in points)
    assert points[0].component == "nodes"  # the one VPS goes first
    for p in points:
        at = capacity(replace(w, users=p.users)).component(p.component).utilisation
        before = capacity(replace(w, users=p.users - 1)).component(p.component).utilisation
        assert before < 1 <= at, p
