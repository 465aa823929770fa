"""Prometheus metrics of the emulator: where bytes flow, what is stored, which errors it sent.

Labelled by account id (a pool has a few hundred accounts) and by Drive's error reason, so a
load run shows which accounts served what and when quotas started to bite.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BYTES_SERVED = Counter(
    "drive_emulator_bytes_served_total", "File bytes sent to downloaders", ["account"]
)
BYTES_RECEIVED = Counter(
    "drive_emulator_bytes_received_total",
    "Upload bytes received, re-sent bytes of resumed uploads included",
    ["account"],
)
BYTES_STORED = Gauge("drive_emulator_bytes_stored", "Bytes of files an account owns", ["account"])
ERRORS = Counter("drive_emulator_errors_total", "Error answers by Drive reason", ["reason"])
FAULTS = Counter(
    "drive_emulator_faults_injected_total", "Faults injected on purpose, by kind", ["kind"]
)
