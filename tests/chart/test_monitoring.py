"""Prometheus rules and the Grafana dashboard: they parse (promtool), they are what the chart
ships, and every metric they query is exported by the services' code."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.chart.conftest import CHART, ROOT, Render, by_kind

pytestmark = pytest.mark.unit

RULES = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
# Imports every process's code and prints the names /metrics exposes (the default registry, the
# one each service's /metrics endpoint serves).
COLLECT = """
import services.uploader.main, services.uploader.worker, services.downloader.main
import services.stats.main, services.drive_emulator.main
from prometheus_client import REGISTRY
for family in REGISTRY.collect():
    print(family.name, family.type)
"""
PROMQL_WORDS = {
    "sum", "max", "min", "by", "rate", "histogram_quantile", "max_over_time", "or", "le",
    "account", "service", "status", "reason", "outcome", "via", "and",
}  # fmt: skip


def _exported() -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", COLLECT], capture_output=True, text=True, check=True, cwd=ROOT
    )
    names = set()
    for line in proc.stdout.splitlines():
        name, kind = line.split()
        names.add(name)
        if kind == "counter":
            names.add(f"{name}_total")
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    return {
        w for w in re.findall(r"[a-z_][a-z0-9_]*", expr) if "_" in w or w in {"up"}
    } - PROMQL_WORDS


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


def test_promtool_accepts_the_rules() -> None:
    proc = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 9 rules found" in proc.stdout


def test_alerts_cover_budget_replication_and_stats() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert {
        "FileserverPoolBudgetLow", "FileserverReplicationFailures", "FileserverStatsLagging",
    } <= alerts  # fmt: skip
    budget = next(r for g in groups for r in g["rules"] if r["alert"] == "FileserverPoolBudgetLow")
    assert "0.10 *" in budget["expr"]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_queried_metric_is_exported(source: str) -> None:
    exprs = _rule_exprs() if source == "rules" else _dashboard_exprs()
    exported = _exported()
    assert "fileserver_downloader_budget_remaining_bytes" in exported
    queried = set().union(*(_metric_names(e) for e in exprs))
    assert len(queried) >= 8
    assert not queried - exported, f"not exported by any service: {sorted(queried - exported)}"


def test_chart_ships_the_same_rules_and_dashboard(render: Render) -> None:
    objects = render("metrics.prometheusRule.enabled=true", "metrics.serviceMonitor.enabled=true")
    (rule,) = by_kind(objects, "PrometheusRule").values()
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    dashboard = by_kind(objects, "ConfigMap")["fs-fileserver-grafana-dashboard"]
    assert json.loads(dashboard["data"]["fileserver.json"]) == json.loads(DASHBOARD.read_text())
    (monitor,) = by_kind(objects, "ServiceMonitor").values()
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    annotated = [
        d for d in by_kind(objects, "Deployment").values()
        if d["spec"]["template"]["metadata"]["annotations"].get("prometheus.io/scrape") == "true"
    ]  # fmt: skip
    assert len(annotated) == 6  # every Deployment, the operator on its metrics port
    operator = next(d for d in annotated if d["metadata"]["name"].endswith("-operator"))
    assert operator["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9102"
