"""The scaling rule: pods from the pool's budget, bounds, and the scale-down delay."""

from __future__ import annotations

import pytest
from fileserver_operator.builders.scaling import Rule, decide, parse_annotation, wanted_pods
from fileserver_operator.builders.signals import live_signals, sample

from services.planner.model import SECONDS_PER_DAY

pytestmark = pytest.mark.unit

# One account of 100 GB a day, 1 MB downloads, peak 3x: 3.47 URL/s at peak. A pod taking
# 4.5 req/s at 80 % carries 3.6: each account adds about one Downloader pod.
RULE = Rule.with_capacities({"downloader_rps": 4.5}, max_replicas=5, scale_down_delay_seconds=60)


@pytest.mark.parametrize(("accounts", "pods"), [(0, 1), (1, 1), (2, 2), (3, 3), (40, 5)])
def test_downloader_pods_follow_the_budget_within_bounds(accounts: int, pods: int) -> None:
    wanted = wanted_pods(RULE, pool_daily_bytes=accounts * 100 * 10**9, mean_download_bytes=1e6)
    assert wanted["downloader"] == pods
    assert wanted["uploader"] == 1  # nothing is being uploaded


def test_backlogs_raise_the_counts() -> None:
    metrics = "# TYPE fileserver_uploader_queue_depth gauge\nfileserver_uploader_queue_depth 40\n"
    signals = live_signals(
        uploader_metrics=metrics, stats_metrics="", mean_file_bytes=1e9, average_url_rps=1
    )
    assert signals.replicate_queue_bytes == 40 * 10**9
    assert sample("garbage{", "x") is None
    calm = wanted_pods(RULE, pool_daily_bytes=0, mean_download_bytes=1e9)
    busy = wanted_pods(RULE, pool_daily_bytes=0, mean_download_bytes=1e9, signals=signals)
    assert busy == calm  # replication workers are not a Deployment this rule sizes
    stats = live_signals(
        uploader_metrics="",
        stats_metrics="fileserver_stats_queue_oldest_seconds 600\n",
        mean_file_bytes=1e6,
        average_url_rps=100 * 10**9 / 1e6 / SECONDS_PER_DAY,
    )
    assert stats.stats_queue_depth > 0


def test_up_at_once_down_after_the_delay() -> None:
    up = decide(current=1, wanted=3, lower_since=None, now=1000.0, rule=RULE)
    assert (up.replicas, up.lower_since) == (3, None)
    wait = decide(current=3, wanted=1, lower_since=None, now=1000.0, rule=RULE)
    assert (wait.replicas, wait.lower_since) == (3, 1000.0)
    still = decide(current=3, wanted=2, lower_since=1000.0, now=1059.0, rule=RULE)
    assert still.replicas == 3
    down = decide(current=3, wanted=2, lower_since=1000.0, now=1060.0, rule=RULE)
    assert (down.replicas, down.lower_since) == (2, None)
    steady = decide(current=3, wanted=3, lower_since=1000.0, now=1100.0, rule=RULE)
    assert (steady.replicas, steady.lower_since) == (3, None)  # a dip that ended resets


def test_the_annotation_round_trips_and_tolerates_garbage() -> None:
    wait = decide(current=3, wanted=1, lower_since=None, now=1234.5, rule=RULE)
    assert parse_annotation(wait.annotation) == 1234.5
    assert parse_annotation(None) is None
    assert parse_annotation("not json") is None
    assert parse_annotation('{"lowerSince": "x"}') is None
