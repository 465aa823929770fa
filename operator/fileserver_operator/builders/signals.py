"""Live signals for the scaling rule, read from the services' Prometheus metrics.

The Uploader exports how many replication jobs wait (``fileserver_uploader_queue_depth``),
Stats how long its oldest queued batch has waited (``fileserver_stats_queue_oldest_seconds``).
The rule wants bytes to replicate and events to aggregate, so both are converted: a waiting job
moves one mean-sized file; events pile up at the average URL rate for as long as the oldest
batch has waited.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from services.planner.model import LiveSignals

UPLOADER_QUEUE = "fileserver_uploader_queue_depth"
STATS_OLDEST = "fileserver_stats_queue_oldest_seconds"


def sample(text: str, metric: str) -> float | None:
    """The first sample of ``metric`` in a Prometheus text exposition, if any."""
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == metric:
                    return float(s.value)
    except ValueError:
        return None
    return None


def queued_jobs(uploader_metrics: str) -> float:
    """Jobs waiting in the Uploader's arq queue (the API reads its depth from Redis per scrape)."""
    return max(0.0, sample(uploader_metrics, UPLOADER_QUEUE) or 0.0)


def live_signals(
    *,
    uploader_metrics: str,
    stats_metrics: str,
    mean_file_bytes: float,
    average_url_rps: float,
    drain_seconds: float = 300.0,
) -> LiveSignals:
    """Backlogs seen now, as the planner's :class:`LiveSignals`."""
    jobs = queued_jobs(uploader_metrics)
    waited = max(0.0, sample(stats_metrics, STATS_OLDEST) or 0.0)
    return LiveSignals(
        replicate_queue_bytes=int(jobs * mean_file_bytes),
        stats_queue_depth=int(waited * average_url_rps),
        drain_seconds=drain_seconds,
    )
