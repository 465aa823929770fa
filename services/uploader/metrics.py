"""The Uploader's own Prometheus series, beside the shared request metrics.

The API and the worker are separate processes with separate registries: the API exports the
staging and queue figures on its ``/metrics``, the worker the replication and relay figures on
its own metrics port.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BYTES_STAGED = Counter(
    "fileserver_uploader_bytes_staged_total", "Bytes written to GridFS staging", ["via"]
)
FILES_STAGED = Counter(
    "fileserver_uploader_files_staged_total", "Files registered after staging", ["via"]
)
ENQUEUE_FAILURES = Counter(
    "fileserver_uploader_enqueue_failures_total",
    "Jobs that could not be queued (Redis away); the sweep queues the work later",
    ["job"],
)
QUEUE_DEPTH = Gauge("fileserver_uploader_queue_depth", "Jobs waiting in the Uploader's queue")
REPLICATION_SECONDS = Histogram(
    "fileserver_uploader_replication_duration_seconds",
    "Time to make one replica, by how it was made",
    ["method"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
REPLICATION_FAILURES = Counter(
    "fileserver_uploader_replication_failures_total",
    "Failed replication attempts, by reason",
    ["reason"],
)
REPLICAS_REMOVED = Counter(
    "fileserver_uploader_replicas_removed_total", "Replicas deleted from Drive"
)
EVENTS_DELIVERED = Counter(
    "fileserver_uploader_events_delivered_total", "Events acknowledged by the Downloader"
)
RELAY_FAILURES = Counter(
    "fileserver_uploader_relay_failures_total", "Event batches the Downloader did not take"
)
