"""The Downloader's use cases, called by the thin routers in ``api/``.

Issuing a URL: find the file in the in-memory catalog, work out the requested bytes, try the
accounts holding a ready replica in balancing order until one has budget (leases), store the
issued URL (group commit), answer. Applying events: the per-aggregate sequence rule. Applying
stats: a batch id at most once. Reports: read from the statistics tables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.downloader import metrics, repository
from services.downloader.catalog import CachedFile, Servers
from services.downloader.errors import NotFound, NotReady, Unavailable
from services.downloader.models import Account, File
from services.downloader.ranges import requested_range
from services.downloader.recorder import LeaseLost, RecordFailed
from services.downloader.repository import IssueRow
from services.downloader.runtime import Runtime
from services.downloader.schemas import (
    AccountFigures,
    CatalogEntry,
    CatalogKind,
    CatalogPage,
    FileFigures,
    with_mb,
)
from services.shared.days import next_rollover
from services.shared.events import (
    AccountState,
    EventBatch,
    EventBatchResult,
    FileStatus,
)
from services.shared.ids import TimeOrderedIds
from services.shared.stats import IssuedUrl, StatsBatch, StatsBatchResult

LEASE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Ticket:
    """An issued URL and what it was charged: the fields of :class:`DownloadTicket`."""

    id: uuid.UUID
    url: str
    file_id: str
    account_id: str
    offset: int
    length: int
    charged_bytes: int
    range: str | None
    day: date
    expires_at: datetime


_ids = TimeOrderedIds()


async def issue_download(
    *,
    rt: Runtime,
    file_id: str,
    offset: int | None,
    length: int | None,
    range_header: str | None,
) -> Ticket:
    """Choose an account with budget, charge it, store the issued URL, return the ticket."""
    file = await rt.catalog.file(file_id)
    if file is None or file.deleted:
        raise NotFound(f"file {file_id!r} not found")
    if file.status != FileStatus.UPLOADED:
        raise NotReady(f"file {file_id!r} is {file.status.value}, not uploaded yet: try later")
    wanted = requested_range(file.size, offset=offset, length=length, range_header=range_header)
    now = rt.clock()
    day, day_end = rt.budget_span(now)
    servers = rt.catalog.servers(file)
    if not servers.candidates:
        metrics.REFUSED.labels("no_replica").inc()
        raise Unavailable(
            f"file {file_id!r} has no ready replica on an enabled account",
            headers={"Retry-After": "60"},
        )
    nbytes = wanted.length
    capped = False
    for _ in range(LEASE_RETRIES):
        chosen, capped = await _reserve(rt, file, servers, day=day, nbytes=nbytes, now=now)
        if chosen is None:
            break
        account_id, lease_id, replica_lease_id = chosen
        # Built without validation: every field comes from the catalog or was checked above.
        issued = IssuedUrl.model_construct(
            id=_ids.next(),
            file_id=file.id,
            account_id=account_id,
            bytes=nbytes,
            day=day,
            issued_at=now,
        )
        cap_key = servers.by_account[account_id][1].cap_key
        try:
            await rt.recorder.record(IssueRow(issued, lease_id, wanted.offset, replica_lease_id))
        except LeaseLost as exc:
            rt.balancer.note(account_id, -nbytes, day)
            for lease, ledger, key in (
                (lease_id, rt.ledger, account_id),
                (replica_lease_id, rt.replica_ledger, cap_key),
            ):
                if lease in exc.lost:
                    ledger.forget(lease)
                elif lease is not None and replica_lease_id in exc.lost:
                    ledger.release(key, lease, nbytes)  # not charged: the replica refused first
            continue
        except RecordFailed as exc:
            rt.balancer.note(account_id, -nbytes, day)
            rt.ledger.release(account_id, lease_id, nbytes)
            rt.replica_ledger.release(cap_key, replica_lease_id, nbytes)
            metrics.REFUSED.labels("storage").inc()
            raise Unavailable(
                "could not record the download; try again", headers={"Retry-After": "1"}
            ) from exc
        urls, volume = metrics.issued(account_id)
        urls.inc()
        volume.inc(nbytes)
        return Ticket(
            id=issued.id,
            url=servers.by_account[account_id][1].url,
            file_id=file.id,
            account_id=account_id,
            offset=wanted.offset,
            length=wanted.length,
            charged_bytes=nbytes,
            range=wanted.header,
            day=day,
            expires_at=day_end,
        )
    metrics.REFUSED.labels("replica_cap" if capped else "budget").inc()
    retry_at = next_rollover(now, rt.settings.rollover_utc)
    reason = (
        f"no replica of file {file_id!r} can be handed out for {nbytes} more bytes today "
        "without passing Drive's per-file daily limit or its account's budget"
        if capped
        else f"no account holding file {file_id!r} has {nbytes} bytes of daily budget left"
    )
    raise Unavailable(
        f"{reason}; budgets renew at {retry_at.isoformat()}",
        headers={"Retry-After": str(max(1, int((retry_at - now).total_seconds()) + 1))},
    )


async def _reserve(
    rt: Runtime,
    file: CachedFile,
    servers: Servers,
    *,
    day: date,
    nbytes: int,
    now: datetime,
) -> tuple[tuple[str, uuid.UUID | None, uuid.UUID | None] | None, bool]:
    """The first account in balancing order whose replica and budget can both give ``nbytes``
    today, with the two leases; and whether some replica was passed over for its cap."""
    cap = rt.settings.replica_daily_cap_bytes
    capped = False
    for account_id in rt.balancer.order(servers.candidates, day):
        # Counted before any wait (a lease from the database, the group commit), so that
        # concurrent requests rotate instead of all queueing for the same account; undone
        # if the bytes are not issued after all.
        rt.balancer.note(account_id, nbytes, day)
        if nbytes == 0:  # nothing to charge (an empty file): any account will do
            return (account_id, None, None), capped
        account, replica = servers.by_account[account_id]
        replica_lease = None
        if cap:
            replica_lease = await rt.replica_ledger.allocate(
                replica.cap_key, day=day, nbytes=nbytes, budget=cap, now=now
            )
            if replica_lease is None:
                capped = True
                rt.balancer.note(account_id, -nbytes, day)
                continue
        lease_id = await rt.ledger.allocate(
            account_id, day=day, nbytes=nbytes, budget=account.daily_budget_bytes, now=now
        )
        if lease_id is not None:
            return (account_id, lease_id, replica_lease), capped
        if replica_lease is not None:
            rt.replica_ledger.release(replica.cap_key, replica_lease, nbytes)
        rt.balancer.note(account_id, -nbytes, day)
    return None, capped


async def apply_events(*, rt: Runtime, batch: EventBatch) -> EventBatchResult:
    """Apply each event whose sequence number is above the stored one; acknowledge all."""
    applied = ignored = 0
    async with rt.sessions() as session, session.begin():
        rev = await repository.bump_revision(session)  # also serialises concurrent batches
        accounts = await repository.stored_seqs(
            session,
            Account,
            (e.state.id for e in batch.events if e.state.kind == "account"),
        )
        files = await repository.stored_seqs(
            session, File, (e.state.id for e in batch.events if e.state.kind == "file")
        )
        for event in batch.events:
            seen = accounts if isinstance(event.state, AccountState) else files
            if event.seq <= seen.get(event.state.id, 0):
                ignored += 1
                continue
            seen[event.state.id] = event.seq
            if isinstance(event.state, AccountState):
                await repository.put_account(session, event.state, seq=event.seq, rev=rev)
            else:
                await repository.put_file(session, event.state, seq=event.seq, rev=rev)
            applied += 1
        if applied == 0:
            await session.rollback()  # leave the revision alone: nothing changed
    if applied:
        await rt.catalog.refresh()
    return EventBatchResult(applied=applied, ignored=ignored)


async def catalog_page(
    *, session: AsyncSession, kind: CatalogKind, after: str, limit: int
) -> CatalogPage:
    """A page of accounts or files as stored (tombstones included), for reconciliation."""
    items: list[CatalogEntry] = []
    if kind == CatalogKind.ACCOUNT:
        for account, seq in await repository.accounts_page(session, after=after, limit=limit):
            items.append(CatalogEntry(seq=seq, state=account))
    else:
        for file, seq in await repository.files_page(session, after=after, limit=limit):
            items.append(CatalogEntry(seq=seq, state=file))
    return CatalogPage(items=items, next_after=items[-1].state.id if len(items) == limit else None)


async def apply_stats(
    *, session: AsyncSession, batch: StatsBatch, now: datetime
) -> StatsBatchResult:
    """Add a batch's increments unless this batch id was applied before."""
    async with session.begin():
        fresh = await repository.claim_batch(session, batch.batch_id, now)
        if fresh:
            await repository.add_increments(session, batch)
    return StatsBatchResult(batch_id=batch.batch_id, applied=fresh)


async def file_figures(*, session: AsyncSession, file_id: str, day: date) -> FileFigures:
    """One file's figures."""
    row = await repository.file_figures(session, day=day, file_id=file_id)
    if row is None:
        raise NotFound(f"file {file_id!r} not found")
    return FileFigures.model_validate(with_mb(row))


async def account_figures(*, session: AsyncSession, account_id: str, day: date) -> AccountFigures:
    """One account's figures."""
    row = await repository.account_figures(session, day=day, account_id=account_id)
    if row is None:
        raise NotFound(f"account {account_id!r} not found")
    return AccountFigures.model_validate(with_mb(row))


async def report_rows(
    *,
    session: AsyncSession,
    kind: CatalogKind,
    day: date,
    sort: str,
    limit: int | None,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the files' or accounts' report (``sort``: column, ``-`` prefix for descending)."""
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    page = repository.file_report if kind == CatalogKind.FILE else repository.account_report
    rows, total = await page(
        session, day=day, sort=column, descending=descending, limit=limit, offset=offset
    )
    return [with_mb(r) for r in rows], total
