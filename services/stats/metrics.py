"""Prometheus metrics of Stats: events processed, batch sizes, lag, outcomes."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("fileserver_stats_events_processed_total", "Issued-URL events aggregated")
BATCHES = Counter(
    "fileserver_stats_batches_total",
    "Batches handled, by outcome (applied, duplicate: already applied, failed: will retry)",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "fileserver_stats_batch_size",
    "Events per batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
LAG = Gauge(
    "fileserver_stats_lag_seconds",
    "Age of the oldest event of the batch being processed (issue to processing)",
)
QUEUE_AGE = Gauge(
    "fileserver_stats_queue_oldest_seconds",
    "How long the oldest batch still in the queue has waited (0: queue empty)",
)
WORKER_RESTARTS = Counter(
    "fileserver_stats_worker_restarts_total",
    "Queue workers started again after losing Redis",
)
