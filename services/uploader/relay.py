"""Event delivery to the Downloader: the outbox relay.

The outbox is the aggregates themselves (see :mod:`services.uploader.models`): a dirty account
or file is sent as one state-transfer event whose ``seq`` is the document's and whose id is
derived from (aggregate, seq), so a resend after a lost acknowledgement is the same event. On
acknowledgement each document is cleaned only if its ``seq`` is still the one sent; a
tombstone is purged instead. The Downloader applies an event only if its ``seq`` is newer than
what it holds, so duplicates and reordering cannot undo anything: at-least-once delivery,
exactly-once effect.
"""

from __future__ import annotations

import logging
import uuid

import httpx

from services.shared.events import (
    AccountState,
    Event,
    EventBatch,
    EventBatchResult,
    FileState,
    ReplicaInfo,
    ReplicaState,
)
from services.uploader import repository
from services.uploader.jobs import Jobs
from services.uploader.metrics import EVENTS_DELIVERED, RELAY_FAILURES
from services.uploader.models import Account, StoredFile

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://fileserver/uploader/events")


class DeliveryError(Exception):
    """The Downloader did not take a batch; it stays in the outbox."""


def event_id(aggregate: str, seq: int) -> uuid.UUID:
    """The id of the event carrying state ``seq`` of ``aggregate``: the same on every resend."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{aggregate}:{seq}")


def account_event(account: Account) -> Event:
    state = AccountState(
        id=account.id,
        email=account.email,
        daily_budget_bytes=account.daily_budget_bytes,
        enabled=account.enabled and not account.draining,
        deleted=account.deleted,
    )
    return Event(
        id=event_id(f"account:{account.id}", account.seq),
        seq=account.seq,
        occurred_at=account.updated_at,
        state=state,
    )


def file_event(file: StoredFile) -> Event:
    replicas = tuple(
        ReplicaInfo(account_id=aid, drive_file_id=r.drive_file_id, state=r.state)
        for aid, r in sorted(file.replicas.items())
    )
    state = FileState(
        id=file.id,
        name=file.name,
        size=file.size,
        content_type=file.content_type,
        sha256=file.sha256,
        status=file.status,
        replicas=replicas,
        deleted=file.deleted,
    )
    return Event(
        id=event_id(f"file:{file.id}", file.seq),
        seq=file.seq,
        occurred_at=file.updated_at,
        state=state,
    )


async def relay_once(*, http: httpx.AsyncClient, token: str, jobs: Jobs, limit: int) -> int:
    """Send one batch of pending changes; how many events the Downloader acknowledged."""
    accounts = await repository.dirty(Account, limit)
    files = await repository.dirty(StoredFile, max(1, limit - len(accounts)))
    # Accounts first: a file's replicas refer to them.
    events = [account_event(a) for a in accounts] + [file_event(f) for f in files]
    if not events:
        return 0
    body = EventBatch(events=tuple(events)).model_dump(mode="json")
    try:
        response = await http.post(
            "/internal/events", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        RELAY_FAILURES.inc()
        raise DeliveryError(f"Downloader unreachable: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        RELAY_FAILURES.inc()
        raise DeliveryError(f"Downloader answered {response.status_code}: {response.text[:200]}")
    EventBatchResult.model_validate(response.json())
    for account in accounts:
        await repository.acknowledge(Account, account.id, account.seq)
    for file in files:
        await repository.acknowledge(StoredFile, file.id, file.seq)
        if any(r.state == ReplicaState.REMOVING for r in file.replicas.values()):
            # Those replicas are out of the Downloader's choices now: Drive deletion may go.
            await jobs.reconcile_file(file.id)
    EVENTS_DELIVERED.inc(len(events))
    return len(events)


MAX_BATCHES_PER_RUN = 50


async def relay_all(*, http: httpx.AsyncClient, token: str, jobs: Jobs, limit: int) -> int:
    """Send batches until the outbox is empty (or a run's cap); the events delivered."""
    total = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        sent = await relay_once(http=http, token=token, jobs=jobs, limit=limit)
        if not sent:
            break
        total += sent
    if total:
        log.info("relayed %d events to the Downloader", total)
    return total
