"""Prometheus metrics of the Downloader (request counts and latency come from the shared
middleware): URLs and bytes issued per account, refusals, budget left, lease activity, and the
group commit's batch sizes.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

URLS_ISSUED = Counter(
    "fileserver_downloader_urls_issued_total", "Download URLs issued", ["account"]
)
BYTES_ISSUED = Counter(
    "fileserver_downloader_bytes_issued_total", "Bytes charged for issued URLs", ["account"]
)
REFUSED = Counter(
    "fileserver_downloader_refusals_total",
    "Download requests answered 503, by reason",
    ["reason"],
)
BUDGET_REMAINING = Gauge(
    "fileserver_downloader_budget_remaining_bytes",
    "Daily budget not yet issued today, per account (all processes)",
    ["account"],
)
LEASES = Counter(
    "fileserver_downloader_lease_operations_total",
    "Budget lease operations of this process",
    ["action"],
)
LEASE_BYTES = Counter(
    "fileserver_downloader_lease_bytes_total",
    "Bytes leased from, returned to or reclaimed for the daily budgets",
    ["action"],
)
LEASE_AVAILABLE = Gauge(
    "fileserver_downloader_lease_available_bytes",
    "Leased bytes this process can still hand out, per account",
    ["account"],
)
COMMIT_BATCH = Histogram(
    "fileserver_downloader_commit_batch_size",
    "Issued URLs stored per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
WRITES_HANDED_OFF = Counter(
    "fileserver_downloader_writes_handed_off_total",
    "SQLite write transactions run in the writer thread because the write lock was held",
)
STATS_BATCHES_RELAYED = Counter(
    "fileserver_downloader_stats_batches_relayed_total",
    "Stats batches queued again because Stats had not applied them in time",
)
STATS_ENQUEUE_FAILURES = Counter(
    "fileserver_downloader_stats_enqueue_failures_total",
    "Stats batches that could not be queued at once (the relay retries them)",
)


@cache
def issued(account_id: str) -> tuple[Counter, Counter]:
    """An account's URL and byte counters, bound once: ``labels()`` is a locked lookup per call
    on the hottest path."""
    return URLS_ISSUED.labels(account_id), BYTES_ISSUED.labels(account_id)
