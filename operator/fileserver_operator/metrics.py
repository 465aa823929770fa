"""Prometheus metrics of the operator, served on ``metrics_port`` by the active and idle peers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECONCILES = Counter(
    "fileserver_operator_reconciles_total",
    "Handler runs, by resource kind and outcome (ok, retry, error)",
    ["kind", "outcome"],
)
POOL_BUDGET = Gauge(
    "fileserver_operator_pool_budget_bytes",
    "Sum of the daily download budgets of the Ready DriveAccounts",
)
POOL_ACCOUNTS = Gauge("fileserver_operator_pool_accounts", "DriveAccounts by readiness", ["ready"])
SCALINGS = Counter(
    "fileserver_operator_scalings_total",
    "Replica changes the operator made, by Deployment and direction",
    ["deployment", "direction"],
)
WANTED_REPLICAS = Gauge(
    "fileserver_operator_wanted_replicas",
    "Replicas the scaling rule wants for each Deployment now",
    ["deployment"],
)
CATALOG_FILES = Gauge("fileserver_operator_catalog_files", "Files the last catalog sync saw")
CATALOG_WRITES = Counter(
    "fileserver_operator_catalog_writes_total",
    "FileReplica writes of the catalog sync (created, deleted, spec, status)",
    ["write"],
)
