"""Scaling: each service Deployment follows the pool's daily budget, with hysteresis.

A timer on each of the four Deployments (peering pauses it on idle operator replicas): the
Uploader, Downloader and Stats by the budget, the replication workers by the Uploader's queue.
The pending scale-down lives in an annotation of the Deployment, so a restarted or new leader
keeps counting the delay instead of starting over or acting at once.

The operator is the one owner of these Deployments' ``spec.replicas`` (the chart leaves it
unset, as for an HPA), so a Deployment Kubernetes created at its default of one replica, or one
an upgrade reset, must reach the chart's floor at once rather than at the next timer tick: a
watch on the Deployments raises any of them found below its floor.
"""

from __future__ import annotations

import time
from typing import Any

import kopf

from fileserver_operator.builders.scaling import (
    ANNOTATION,
    Rule,
    decide,
    parse_annotation,
    raise_to_floor,
    wanted_pods,
)
from fileserver_operator.builders.signals import live_signals, queued_jobs
from fileserver_operator.config import get_settings
from fileserver_operator.metrics import POOL_ACCOUNTS, POOL_BUDGET, SCALINGS, WANTED_REPLICAS
from fileserver_operator.state import State
from services.planner.model import SECONDS_PER_DAY

SETTINGS = get_settings()
RULE = Rule.with_capacities(
    {
        "downloader_rps": SETTINGS.downloader_rps,
        "uploader_bytes_per_s": SETTINGS.uploader_bytes_per_s,
        "stats_events_per_s": SETTINGS.stats_events_per_s,
    },
    min_replicas=SETTINGS.min_replicas,
    max_replicas=SETTINGS.max_replicas,
    peak_factor=SETTINGS.peak_factor,
    target_utilisation=SETTINGS.target_utilisation,
    scale_down_delay_seconds=SETTINGS.scale_down_delay_seconds,
    min_by_service=SETTINGS.min_replicas_by_service,
    max_by_service=SETTINGS.max_replicas_by_service,
    worker_queue_per_pod=SETTINGS.worker_queue_per_pod,
)


def is_scaled(name: str, namespace: str, **_: Any) -> bool:
    return (
        SETTINGS.scale_deployments and namespace == SETTINGS.namespace and name in SETTINGS.scaled
    )


def pool_budget(pool: list[dict[str, Any]]) -> int:
    """Daily bytes the pool may hand out: the budgets of the Ready accounts."""
    ready = [a for a in pool if a.get("ready")]
    POOL_ACCOUNTS.labels("true").set(len(ready))
    POOL_ACCOUNTS.labels("false").set(len(pool) - len(ready))
    budget = sum(int(a.get("budget", 0)) for a in ready)
    POOL_BUDGET.set(budget)
    return budget


@kopf.timer("apps", "v1", "deployments", interval=SETTINGS.scale_interval_seconds, when=is_scaled)
async def deployment_scale(
    name: str,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    memo: kopf.Memo,
    driveaccount_pool: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Set the Deployment's replicas from the pool's budget and backlogs; record an Event."""
    state: State = memo.state
    budget = pool_budget(list(driveaccount_pool.get("pool", [])))
    mean = state.mean_download_bytes
    uploader_metrics = await state.uploader.metrics()
    signals = live_signals(
        uploader_metrics=uploader_metrics,
        stats_metrics=await state.stats.metrics() if SETTINGS.stats_url else "",
        mean_file_bytes=mean,
        average_url_rps=budget / mean / SECONDS_PER_DAY,
    )
    service = SETTINGS.scaled[name]
    jobs = queued_jobs(uploader_metrics)
    wanted = wanted_pods(
        RULE,
        pool_daily_bytes=budget,
        mean_download_bytes=mean,
        signals=signals,
        queued_jobs=jobs,
    )
    WANTED_REPLICAS.labels(name).set(wanted[service])
    current = int(spec.get("replicas", 1))
    annotations = meta.get("annotations") or {}
    decision = decide(
        current=current,
        wanted=wanted[service],
        lower_since=parse_annotation(annotations.get(ANNOTATION)),
        now=time.time(),
        rule=RULE,
    )
    if decision.replicas != current:
        await state.kube.scale(
            SETTINGS.namespace, name, decision.replicas, {ANNOTATION: decision.annotation}
        )
        SCALINGS.labels(name, "up" if decision.replicas > current else "down").inc()
        kopf.event(
            body,
            type="Normal",
            reason="Scaled",
            message=f"{decision.reason}: pool budget {budget} bytes/day over "
            f"{sum(1 for a in driveaccount_pool.get('pool', []) if a.get('ready'))} Ready accounts"
            + (f", {jobs:.0f} Uploader jobs queued" if service == "uploader-worker" else ""),
        )
    elif annotations.get(ANNOTATION) != decision.annotation:
        await state.kube.annotate_deployment(
            SETTINGS.namespace, name, {ANNOTATION: decision.annotation}
        )


@kopf.on.event("apps", "v1", "deployments", when=is_scaled)
async def deployment_floor(
    name: str,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    type: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Raise a Deployment found below its floor at once (created at Kubernetes' default of 1)."""
    if type == "DELETED":
        return
    current = int(spec.get("replicas", 1))
    decision = raise_to_floor(current=current, service=SETTINGS.scaled[name], rule=RULE)
    if decision is None:
        return
    state: State = memo.state
    applied = await state.kube.scale(
        SETTINGS.namespace,
        name,
        decision.replicas,
        {ANNOTATION: decision.annotation},
        resource_version=meta.get("resourceVersion"),
    )
    if not applied:  # changed since this event (the timer scaled it): a newer event follows
        return
    SCALINGS.labels(name, "up").inc()
    kopf.event(
        body,
        type="Normal",
        reason="Scaled",
        message=f"{decision.reason} (the chart's minimum; the operator owns spec.replicas)",
    )
