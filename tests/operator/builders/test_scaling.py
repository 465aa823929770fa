"""The scaling rule: pods from the pool's budget and the Uploader's queue, per-service bounds
(the chart's floor), the scale-down delay, and the operator's settings that carry them."""

from __future__ import annotations

import re

import pytest
from fileserver_operator.builders.scaling import (
    Rule,
    decide,
    parse_annotation,
    raise_to_floor,
    wanted_pods,
)
from fileserver_operator.builders.signals import live_signals, queued_jobs, sample
from fileserver_operator.config import OperatorSettings
from pydantic import ValidationError

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
    # 40 GB to replicate in 5 minutes (133 MB/s) at 76 MiB/s a worker, 80 % busy: 3 workers,
    # and nothing else changes.
    assert calm["uploader-worker"] == 1
    assert busy["uploader-worker"] == 3
    assert {k: v for k, v in busy.items() if k != "uploader-worker"} == {
        k: v for k, v in calm.items() if k != "uploader-worker"
    }
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


# A floor of 2 (the chart's HA replicas) on the APIs and workers, 1 on Stats.
FLOORS = Rule(
    min_by_service={"uploader": 2, "downloader": 2, "stats": 1, "uploader-worker": 2},
    max_by_service={"uploader-worker": 6},
    worker_queue_per_pod=10,
)


@pytest.mark.parametrize(("jobs", "workers"), [(0, 2), (20, 2), (21, 3), (55, 6), (10_000, 6)])
def test_workers_follow_the_queue_length_within_their_bounds(jobs: int, workers: int) -> None:
    # Small files: the bytes alone would want no worker at all; the job count decides.
    metrics = f"fileserver_uploader_queue_depth {jobs}\n"
    signals = live_signals(
        uploader_metrics=metrics, stats_metrics="", mean_file_bytes=1000, average_url_rps=0
    )
    wanted = wanted_pods(
        FLOORS,
        pool_daily_bytes=0,
        mean_download_bytes=1e6,
        signals=signals,
        queued_jobs=queued_jobs(metrics),
    )
    assert wanted["uploader-worker"] == workers
    assert wanted["uploader"] == wanted["downloader"] == 2  # the floor, not the global 1
    assert wanted["stats"] == 1


def test_no_count_goes_below_the_floor_even_when_wanted_lower() -> None:
    wanted = wanted_pods(FLOORS, pool_daily_bytes=0, mean_download_bytes=1e6)
    assert wanted == {"uploader": 2, "downloader": 2, "stats": 1, "uploader-worker": 2}
    # So a scale-down, however long wanted, stops at the floor.
    down = decide(current=4, wanted=wanted["uploader"], lower_since=0, now=1e9, rule=FLOORS)
    assert down.replicas == 2


def test_a_deployment_below_its_floor_is_raised_at_once() -> None:
    # Kubernetes' default of one replica for a Deployment the chart gave no spec.replicas.
    up = raise_to_floor(current=1, service="downloader", rule=FLOORS)
    assert up is not None
    assert (up.replicas, up.lower_since) == (2, None)
    assert parse_annotation(up.annotation) is None  # no pending scale-down
    assert raise_to_floor(current=2, service="downloader", rule=FLOORS) is None
    assert raise_to_floor(current=5, service="uploader-worker", rule=FLOORS) is None
    assert raise_to_floor(current=0, service="stats", rule=FLOORS) is not None


def _settings(**env: str) -> OperatorSettings:
    return OperatorSettings(dev_mode=True, **env)  # type: ignore[arg-type]


def test_settings_carry_per_service_bounds_and_the_worker_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "FILESERVER_OPERATOR_MIN_REPLICAS_BY_SERVICE",
        '{"uploader": 2, "downloader": 2, "uploader-worker": 3}',
    )
    monkeypatch.setenv("FILESERVER_OPERATOR_MAX_REPLICAS_BY_SERVICE", '{"uploader-worker": 8}')
    monkeypatch.setenv("FILESERVER_OPERATOR_WORKER_DEPLOYMENT", "fs-fileserver-uploader-worker")
    monkeypatch.setenv("FILESERVER_OPERATOR_DEV_MODE", "true")
    settings = OperatorSettings()
    assert settings.bounds("uploader") == (2, 20)
    assert settings.bounds("stats") == (1, 20)  # the global defaults
    assert settings.bounds("uploader-worker") == (3, 8)
    assert settings.scaled["fs-fileserver-uploader-worker"] == "uploader-worker"
    assert len(settings.scaled) == 4
    assert "fileserver-uploader-worker" not in _settings(worker_deployment="").scaled


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_replicas_by_service", {"uploadr": 2}, "unknown services ['uploadr']"),
        ("min_replicas_by_service", {"stats": 30}, "the floor of stats (30) exceeds"),
        ("max_replicas_by_service", {"stats": 0}, "max_replicas of stats must be at least 1"),
        ("max_replicas_by_service", {"stats": 5000}, "within 0..1000"),
    ],
)
def test_settings_refuse_inconsistent_bounds(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        _settings(**{field: value})  # type: ignore[arg-type]
