"""The catalog sync: one FileReplica per Uploader file, and their status.

It runs as a timer on the Uploader's Deployment, which ties it to the thing it mirrors and,
above all, lets kopf's peering pause it along with every other handler: two operator replicas
never both write. It is the only writer of a FileReplica's status and of its file-derived spec.

It follows the Uploader's change feed (``GET /files?sort=updated_at&updated_after=``): a full
listing on start, when the DriveAccount pool changes (every status names accounts and counts
"every account") and every ``CATALOG_RESYNC_SECONDS``; in between only the files changed since
the last one handled. Each page is written as it arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from fileserver_operator.builders.catalog import verification_turn
from fileserver_operator.builders.replicas import (
    manifest,
    replica_status,
    spec_drift,
    status_changed,
)
from fileserver_operator.clients import Unavailable
from fileserver_operator.config import FINALIZER, get_settings
from fileserver_operator.metrics import CATALOG_FILES, CATALOG_WRITES, RECONCILES
from fileserver_operator.state import CatalogFeed, State

SETTINGS = get_settings()
CONCURRENCY = 16
"""Kubernetes writes in flight during a sync: enough for thousands of files a minute."""
FEED_OVERLAP = timedelta(seconds=5)
"""How far before the watermark each feed read starts. A file's ``updated_at`` is stamped
before its write commits, so a change can become visible with a stamp older than one already
read; reading again from a little earlier finds it (files read twice cost a comparison)."""
EMPTY = datetime(2000, 1, 1, tzinfo=UTC)
"""The watermark of an empty catalog: the next feed read lists every file there is."""
SERVED = ("Ready", "Degraded")
"""Phases of uploaded files, whose sizes make the catalog's mean download size."""

Pool = tuple[tuple[str, str, bool], ...]


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


def _pool(entries: Iterable[dict[str, Any]]) -> Pool:
    return tuple(
        sorted(
            (str(a["uploader_id"]), str(a["name"]), bool(a["ready"]))
            for a in entries
            if a.get("uploader_id")
        )
    )


def _full_listing_due(feed: CatalogFeed, pool: Pool) -> bool:
    return (
        feed.watermark is None
        or feed.pool != pool
        or time.monotonic() - feed.listed_at >= SETTINGS.catalog_resync_seconds
    )


def _instant(text: str) -> datetime:
    """An ``updated_at`` of the Uploader (UTC, written without an offset)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _being_deleted(entry: dict[str, Any]) -> bool:
    conditions = entry["status"].get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("reason") == "Deleting" for c in conditions)


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
    feed = state.catalog
    pool = _pool(driveaccount_pool.get("pool", []))
    full = _full_listing_due(feed, pool)
    names = {uploader_id: name for uploader_id, name, _ in pool}
    seen: set[str] = set()
    newest: datetime | None = None
    writes = 0
    try:
        if full:
            accounts = await state.uploader.accounts()
            feed.eligible_accounts = sum(1 for a in accounts if _eligible(a))
        since = None if full or feed.watermark is None else feed.watermark - FEED_OVERLAP
        async for files in state.uploader.file_changes(since):
            jobs = _page_jobs(state, files, filereplicas_by_file, names, seen)
            await _bounded(jobs)
            writes += len(jobs)
            newest = _instant(files[-1]["updated_at"])  # pages come oldest change first
            if not full:  # a full listing moves the watermark only once it is complete
                feed.watermark = newest
        # Files whose demand-driven decision changed, though the file did not: their status
        # shows the decision (the Placed condition) now, not at the next full listing.
        state.placements_changed -= seen
        for file_id in sorted(state.placements_changed):
            found = await state.uploader.file(file_id)
            if found is not None:
                jobs = _page_jobs(state, [found], filereplicas_by_file, names, seen)
                await _bounded(jobs)
                writes += len(jobs)
            state.placements_changed.discard(file_id)
        checked: set[str] = set()
        if not full:  # files deleted and purged between two syncs (builders/catalog.py)
            unseen = (file_id for file_id in filereplicas_by_file if file_id not in seen)
            turn, feed.verified_after = verification_turn(unseen, feed.verified_after)
            checked = set(turn)
        gone = [
            _forget(state, e)
            for file_id, stored in filereplicas_by_file.items()
            if file_id not in seen
            for e in stored
            if not e["deleting"] and (full or _being_deleted(e) or file_id in checked)
        ]
        await _bounded(gone)
    except Unavailable as exc:
        RECONCILES.labels("Catalog", "retry").inc()
        raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None
    if full:
        feed.watermark = newest or feed.watermark or EMPTY
        feed.pool, feed.listed_at = pool, time.monotonic()
    _catalog_figures(state, filereplicas_by_file)
    state.last_catalog_sync = time.time()
    RECONCILES.labels("Catalog", "ok").inc()
    if writes or gone:
        kind = "full listing" if full else "changes"
        logger.info("catalog sync (%s): %d files, %d writes", kind, len(seen), writes + len(gone))


def _page_jobs(
    state: State,
    files: list[dict[str, Any]],
    index: kopf.Index[str, dict[str, Any]],
    names: dict[str, str],
    seen: set[str],
) -> list[Awaitable[None]]:
    """The writes that bring the resources of one page of files up to date."""
    eligible = state.catalog.eligible_accounts
    jobs: list[Awaitable[None]] = []
    for file in files:
        seen.add(file["id"])
        entries = list(index.get(file["id"], []))
        if not entries:
            jobs.append(_create(state, file, names, eligible))
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
            decision=state.placements.get(file["id"]),
        )
        if drift or status_changed(status, entry["status"]):
            jobs.append(_update(state, entry, drift, status))
    return jobs


def _catalog_figures(state: State, index: kopf.Index[str, dict[str, Any]]) -> None:
    """Catalog size and the mean size of its uploaded files, from the resources."""
    sizes = [
        int(e["spec"].get("size", 0))
        for stored in index.values()
        for e in stored
        if e["status"].get("phase") in SERVED
    ]
    state.catalog_mean_bytes = sum(sizes) / len(sizes) if sizes else None
    CATALOG_FILES.set(len(index))


def _born_handled(state: State, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with kopf's finalizer and its record of the object as already handled.

    kopf would otherwise patch both onto every new FileReplica (two more writes and watch
    events per object): the finalizer because ``filereplica_delete`` needs one, the record
    (``last-handled-configuration``) because ``filereplica_placement`` compares against it.
    Made with kopf's own storage, so kopf reads the object as created with nothing to do; a
    placement set later still differs from the record and reaches the handler.
    """
    born = {**body, "metadata": {**body["metadata"], "finalizers": [FINALIZER]}}
    if state.diffbase is not None:
        patch = kopf.Patch()
        essence = state.diffbase.build(body=kopf.Body(born))
        state.diffbase.store(body=kopf.Body(born), patch=patch, essence=essence)
        annotations = patch.get("metadata", {}).get("annotations", {})
        born["metadata"]["annotations"] = {**born["metadata"].get("annotations", {}), **annotations}
    return born


async def _create(state: State, file: dict[str, Any], names: dict[str, str], eligible: int) -> None:
    body = manifest(file, SETTINGS.namespace)
    if await state.kube.create_file_replica(SETTINGS.namespace, _born_handled(state, body)):
        CATALOG_WRITES.labels("created").inc()
    status = replica_status(
        file,
        account_names=names,
        eligible_accounts=eligible,
        generation=1,
        placement=body["spec"]["placement"],
        current=None,
    )
    await state.kube.patch_file_replica(SETTINGS.namespace, body["metadata"]["name"], status=status)
    CATALOG_WRITES.labels("status").inc()


async def _update(
    state: State, entry: dict[str, Any], drift: dict[str, Any], status: dict[str, Any]
) -> None:
    await state.kube.patch_file_replica(
        entry["namespace"], entry["name"], spec=drift or None, status=status
    )
    CATALOG_WRITES.labels("spec" if drift else "status").inc()


async def _forget(state: State, entry: dict[str, Any]) -> None:
    """Delete the resource of a file the Uploader no longer lists, once a GET confirms it."""
    if await state.uploader.file(str(entry["spec"].get("fileId", ""))) is not None:
        return  # created after the listing, or still being deleted
    await state.kube.delete_file_replica(entry["namespace"], entry["name"])
    CATALOG_WRITES.labels("deleted").inc()
