"""Prometheus metrics of the Drive client, labelled by account (a pool has a few hundred).

Retries and resumes are counted so that an operator sees an account being throttled, or a link
dropping uploads, before either turns into failures.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REQUESTS = Counter(
    "fileserver_drive_requests_total",
    "Drive operations by outcome (ok or the typed error's name)",
    ["account", "operation", "outcome"],
)
RETRIES = Counter(
    "fileserver_drive_retries_total",
    "Drive operations retried after a rate-limit or transient error",
    ["account", "operation", "error"],
)
UPLOAD_BYTES = Counter(
    "fileserver_drive_upload_bytes_total", "Bytes of completed uploads", ["account"]
)
UPLOAD_RESUMES = Counter(
    "fileserver_drive_upload_resumes_total",
    "Resumable uploads continued from Drive's reported offset after an interruption",
    ["account"],
)
CONNECTIONS_REOPENED = Counter(
    "fileserver_drive_connections_reopened_total",
    "Kept-alive connections found closed by their peer before a request, and replaced",
)
ACCOUNT_HEALTHY = Gauge(
    "fileserver_drive_account_healthy",
    "1 while the account's credentials work, 0 after Drive refused them",
    ["account"],
)
