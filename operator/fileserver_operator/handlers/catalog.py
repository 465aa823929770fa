"""The catalog sync: one FileReplica per Uploader file, and their status.

It runs as a timer on the Uploader's Deployment, which ties it to the thing it mirrors and,
above all, lets kopf's peering pause it along with every other handler: two operator replicas
never both write. It is the only writer of a FileReplica's status and of its file-derived spec.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import kopf

from fileserver_operator.builders.replicas import (
    manifest,
    replica_status,
    spec_drift,
    status_changed,
)
from fileserver_operator.clients import Unavailable
from fileserver_operator.config import get_settings
from fileserver_operator.metrics import CATALOG_FILES, CATALOG_WRITES, RECONCILES
from fileserver_operator.state import State

SETTINGS = get_settings()
CONCURRENCY = 16
"""Kubernetes writes in flight during a sync: enough for thousands of files a minute."""


def is_uploader(name: str, namespace: str, **_: Any) -> bool:
    return namespace == SETTINGS.namespace and name == SETTINGS.deployments[0]


def _eligible(account: dict[str, Any]) -> bool:
    return bool(
        account.get("enabled")
        and not account.get("draining")
        and account.get("health") != "auth_failed"
    )


async def _bounded(jobs: list[Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Awaitable[None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


@kopf.timer("apps", "v1", "deployments", interval=SETTINGS.catalog_sync_seconds, when=is_uploader)
async def catalog_sync(
    memo: kopf.Memo,
    logger: kopf.Logger,
    filereplicas_by_file: kopf.Index[str, dict[str, Any]],
    driveaccount_pool: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Create missing FileReplicas, follow renames, write status, remove those of gone files."""
    state: State = memo.state
    namespace = SETTINGS.namespace
    try:
        files = await state.uploader.files()
        accounts = await state.uploader.accounts()
    except Unavailable as exc:
        RECONCILES.labels("Catalog", "retry").inc()
        raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None

    names = {
        str(a["uploader_id"]): str(a["name"])
        for a in driveaccount_pool.get("pool", [])
        if a.get("uploader_id")
    }
    eligible = sum(1 for a in accounts if _eligible(a))
    uploaded = [f["size"] for f in files if f.get("status") == "uploaded"]
    state.catalog_mean_bytes = sum(uploaded) / len(uploaded) if uploaded else None
    CATALOG_FILES.set(len(files))

    jobs: list[Awaitable[None]] = []
    seen: set[str] = set()
    for file in files:
        seen.add(file["id"])
        entries = list(filereplicas_by_file.get(file["id"], []))
        if not entries:
            jobs.append(_create(state, file, namespace, names, eligible))
            continue
        entry = entries[0]
        if entry["deleting"]:
            continue
        drift = spec_drift(file, entry["spec"])
        status = replica_status(
            file,
            account_names=names,
            eligible_accounts=eligible,
            generation=entry["generation"],
            placement=entry["spec"].get("placement"),
            current=entry["status"],
        )
        if drift or status_changed(status, entry["status"]):
            jobs.append(_update(state, entry, drift, status))
    for file_id, stored in filereplicas_by_file.items():
        if file_id not in seen:
            jobs.extend(_forget(state, file_id, e) for e in stored if not e["deleting"])
    await _bounded(jobs)
    state.last_catalog_sync = time.time()
    RECONCILES.labels("Catalog", "ok").inc()
    if jobs:
        logger.info("catalog sync: %d files, %d writes", len(files), len(jobs))


async def _create(
    state: State, file: dict[str, Any], namespace: str, names: dict[str, str], eligible: int
) -> None:
    body = manifest(file, namespace)
    if await state.kube.create_file_replica(namespace, body):
        CATALOG_WRITES.labels("created").inc()
    status = replica_status(
        file,
        account_names=names,
        eligible_accounts=eligible,
        generation=1,
        placement=body["spec"]["placement"],
        current=None,
    )
    await state.kube.patch_file_replica(namespace, body["metadata"]["name"], status=status)
    CATALOG_WRITES.labels("status").inc()


async def _update(
    state: State, entry: dict[str, Any], drift: dict[str, Any], status: dict[str, Any]
) -> None:
    await state.kube.patch_file_replica(
        entry["namespace"], entry["name"], spec=drift or None, status=status
    )
    CATALOG_WRITES.labels("spec" if drift else "status").inc()


async def _forget(state: State, file_id: str, entry: dict[str, Any]) -> None:
    """Delete the resource of a file the Uploader no longer lists, once a GET confirms it."""
    if await state.uploader.file(file_id) is not None:
        return  # created after the listing, or listed on another page meanwhile
    await state.kube.delete_file_replica(entry["namespace"], entry["name"])
    CATALOG_WRITES.labels("deleted").inc()
