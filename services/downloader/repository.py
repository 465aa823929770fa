"""Data access of the Downloader: every SQL statement the service runs lives here.

The functions take an open session (or, for the writer's transactions, a synchronous
connection) and never commit: the caller owns the transaction, so a service function can combine
several of them atomically. Statements are written to mean the
same on PostgreSQL and SQLite (upserts through each dialect's ``ON CONFLICT``); where
PostgreSQL needs row locks for correctness across processes, SQLite gets the same effect from
its single writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, literal, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.downloader.models import (
    Account,
    AccountDayStats,
    AccountStats,
    BudgetDay,
    CatalogRevision,
    File,
    FileDayStats,
    FileStats,
    IssuedUrlRecord,
    Lease,
    Replica,
    StatsBatchRecord,
)
from services.shared.events import (
    AccountState,
    FileState,
    FileStatus,
    ReplicaInfo,
    ReplicaState,
)
from services.shared.stats import Increment, IssuedUrl, StatsBatch


def _insert_for(dialect: str, table: Any) -> Any:
    """The dialect's INSERT (both have ``on_conflict_do_nothing/update``)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _insert(session: AsyncSession, table: Any) -> Any:
    return _insert_for(session.get_bind().dialect.name, table)


def update(model: Any) -> Any:
    """An UPDATE that skips the ORM's in-session synchronisation: sessions here hold no
    objects that such a statement could make stale, and the evaluation costs on hot paths."""
    return sa_update(model).execution_options(synchronize_session=False)


def _col(model: Any, name: str) -> Any:
    """A model's mapped column (keeps type checkers quiet about SQLModel's class attributes)."""
    return getattr(model, name)


# --- catalog ---------------------------------------------------------------------------------


async def bump_revision(session: AsyncSession) -> int:
    """Lock the catalog revision row and advance it; returns the new revision."""
    result = await session.execute(
        update(CatalogRevision)
        .where(_col(CatalogRevision, "id") == 1)
        .values(rev=_col(CatalogRevision, "rev") + 1)
        .returning(_col(CatalogRevision, "rev"))
    )
    return int(result.scalar_one())


async def current_revision(session: AsyncSession) -> int:
    """The revision of the newest applied event batch."""
    result = await session.execute(select(_col(CatalogRevision, "rev")))
    return int(result.scalar_one_or_none() or 0)


async def stored_seqs(
    session: AsyncSession, model: type[Account] | type[File], ids: Iterable[str]
) -> dict[str, int]:
    """Sequence numbers already applied for these aggregates."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    result = await session.execute(
        select(_col(model, "id"), _col(model, "seq")).where(_col(model, "id").in_(wanted))
    )
    return {row[0]: int(row[1]) for row in result}


async def put_account(session: AsyncSession, state: AccountState, *, seq: int, rev: int) -> None:
    """Store an account's state (insert or replace)."""
    values = {
        "email": state.email,
        "daily_budget_bytes": state.daily_budget_bytes,
        "enabled": state.enabled,
        "deleted": state.deleted,
        "seq": seq,
        "rev": rev,
    }
    stmt = _insert(session, Account).values(id=state.id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


async def put_file(session: AsyncSession, state: FileState, *, seq: int, rev: int) -> None:
    """Store a file's state and replace its replicas (a deleted file keeps none)."""
    values = {
        "name": state.name,
        "size": state.size,
        "content_type": state.content_type,
        "sha256": state.sha256,
        "status": state.status.value,
        "deleted": state.deleted,
        "seq": seq,
        "rev": rev,
    }
    stmt = _insert(session, File).values(id=state.id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
    await session.execute(Replica.__table__.delete().where(Replica.__table__.c.file_id == state.id))  # type: ignore[attr-defined]
    replicas = {} if state.deleted else {r.account_id: r for r in state.replicas}
    if replicas:
        await session.execute(
            _insert(session, Replica),
            [
                {
                    "file_id": state.id,
                    "account_id": r.account_id,
                    "drive_file_id": r.drive_file_id,
                    "state": r.state.value,
                }
                for r in replicas.values()
            ],
        )


@dataclass(frozen=True)
class CatalogChanges:
    """Rows changed since a revision, as the in-memory catalog reloads them."""

    rev: int
    accounts: list[Account]
    files: list[File]
    replicas: dict[str, list[Replica]]


async def changes_since(session: AsyncSession, rev: int) -> CatalogChanges:
    """Accounts and files (with replicas) changed after revision ``rev``."""
    newest = await current_revision(session)
    if newest <= rev:
        return CatalogChanges(newest, [], [], {})
    accounts = list(
        (await session.execute(select(Account).where(_col(Account, "rev") > rev))).scalars()
    )
    files = list((await session.execute(select(File).where(_col(File, "rev") > rev))).scalars())
    replicas: dict[str, list[Replica]] = {f.id: [] for f in files}
    if files:
        changed = select(_col(File, "id")).where(_col(File, "rev") > rev)
        result = await session.execute(select(Replica).where(_col(Replica, "file_id").in_(changed)))
        for replica in result.scalars():
            replicas[replica.file_id].append(replica)
    return CatalogChanges(newest, accounts, files, replicas)


async def accounts_page(
    session: AsyncSession, *, after: str, limit: int
) -> list[tuple[AccountState, int]]:
    """Accounts (tombstones included) in id order after ``after``, with their sequence numbers."""
    result = await session.execute(
        select(Account)
        .where(_col(Account, "id") > after)
        .order_by(_col(Account, "id"))
        .limit(limit)
    )
    return [
        (
            AccountState(
                id=a.id,
                email=a.email,
                daily_budget_bytes=a.daily_budget_bytes,
                enabled=a.enabled,
                deleted=a.deleted,
            ),
            a.seq,
        )
        for a in result.scalars()
    ]


async def files_page(
    session: AsyncSession, *, after: str, limit: int
) -> list[tuple[FileState, int]]:
    """Files (tombstones included) with replicas, in id order after ``after``."""
    result = await session.execute(
        select(File).where(_col(File, "id") > after).order_by(_col(File, "id")).limit(limit)
    )
    files = list(result.scalars())
    by_file: dict[str, list[ReplicaInfo]] = {f.id: [] for f in files}
    if files:
        rows = await session.execute(
            select(Replica)
            .where(_col(Replica, "file_id").in_(list(by_file)))
            .order_by(_col(Replica, "file_id"), _col(Replica, "account_id"))
        )
        for r in rows.scalars():
            by_file[r.file_id].append(
                ReplicaInfo(
                    account_id=r.account_id,
                    drive_file_id=r.drive_file_id,
                    state=ReplicaState(r.state),
                )
            )
    return [
        (
            FileState(
                id=f.id,
                name=f.name,
                size=f.size,
                content_type=f.content_type,
                sha256=f.sha256,
                status=FileStatus(f.status),
                replicas=tuple(by_file[f.id]),
                deleted=f.deleted,
            ),
            f.seq,
        )
        for f in files
    ]


# --- budget leases and issued URLs (the writer's transactions) -----------------------------
#
# These run through :mod:`services.downloader.writer` on a synchronous ``Connection`` (inline on
# SQLite, in its thread on PostgreSQL): each is one transaction handed over in one call.


def grant_budget(
    conn: Connection,
    *,
    lease_id: uuid.UUID,
    new_lease: bool,
    account_id: str,
    day: date,
    budget: int,
    need: int,
    block: int,
    share: int,
    holder: str,
    expires_at: datetime,
    now: datetime,
) -> int:
    """Lease at least ``need`` (≥ 1) and at most ``max(need, block)`` bytes of the day's budget.

    Returns the bytes granted (0: the account cannot give ``need`` today). Locks are taken in
    the order lease row, then budget row, as :func:`close_lease` does, so that the two never
    deadlock on PostgreSQL (a new lease's row is inserted last: nobody else can lock it). A
    top-up of a lease that another process has meanwhile closed grants nothing.
    """
    touch = {"lease": lease_id, "expires": expires_at}
    if not new_lease and conn.execute(_TOUCH_LEASE, touch).rowcount != 1:
        return 0
    key = {"account": account_id, "on_day": day}
    conn.execute(_NEW_BUDGET_DAY[conn.dialect.name], {**key, "budget": budget})
    leased = conn.execute(_LEASED, key).scalar_one()
    # The account's current budget wins over the one recorded when the day's row was made.
    remaining = budget - int(leased)
    if remaining < need:
        return 0
    # Take at most a share of what is left, so that near the end of the day the last bytes are
    # spread over the processes that ask instead of sitting unused in one process's lease.
    granted = max(need, min(block, remaining // share))
    conn.execute(_LEASE_OUT, {**key, "budget": budget, "granted": granted})
    if new_lease:
        conn.execute(
            _NEW_LEASE,
            {
                "lease": lease_id,
                "account": account_id,
                "on_day": day,
                "holder": holder,
                "granted": granted,
                "expires": expires_at,
                "now": now,
            },
        )
    else:
        conn.execute(_TOP_UP, {"lease": lease_id, "granted": granted, "now": now})
    return granted


# The writer's statements, built once (building them costs more than running them).
_TOUCH_LEASE = (
    update(Lease)
    .where(_col(Lease, "id") == bindparam("lease"), _col(Lease, "closed").is_(False))
    .values(expires_at=bindparam("expires"))
)
_NEW_BUDGET_DAY = {
    name: dialect_insert(BudgetDay)
    .values(
        account_id=bindparam("account"),
        day=bindparam("on_day"),
        budget_bytes=bindparam("budget"),
        leased_bytes=0,
    )
    .on_conflict_do_nothing(index_elements=["account_id", "day"])
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_THIS_DAY = (
    _col(BudgetDay, "account_id") == bindparam("account"),
    _col(BudgetDay, "day") == bindparam("on_day"),
)
_LEASED = select(_col(BudgetDay, "leased_bytes")).where(*_THIS_DAY).with_for_update()
_LEASE_OUT = (
    update(BudgetDay)
    .where(*_THIS_DAY)
    .values(
        budget_bytes=bindparam("budget"),
        leased_bytes=_col(BudgetDay, "leased_bytes") + bindparam("granted"),
    )
)
_NEW_LEASE = Lease.__table__.insert().values(  # type: ignore[attr-defined]
    id=bindparam("lease"),
    account_id=bindparam("account"),
    day=bindparam("on_day"),
    holder=bindparam("holder"),
    granted_bytes=bindparam("granted"),
    used_bytes=0,
    expires_at=bindparam("expires"),
    active_at=bindparam("now"),
    closed=False,
)
_TOP_UP = (
    update(Lease)
    .where(_col(Lease, "id") == bindparam("lease"))
    .values(
        granted_bytes=_col(Lease, "granted_bytes") + bindparam("granted"),
        active_at=bindparam("now"),
    )
)


def extend_lease(conn: Connection, lease_id: uuid.UUID, expires_at: datetime) -> bool:
    """Push an open lease's expiry; ``False`` if it was closed (reclaimed) meanwhile."""
    result = conn.execute(
        update(Lease)
        .where(_col(Lease, "id") == lease_id, _col(Lease, "closed").is_(False))
        .values(expires_at=expires_at)
    )
    return bool(result.rowcount == 1)


def close_lease(conn: Connection, lease_id: uuid.UUID) -> int | None:
    """Close a lease and give its unused bytes back to the day; ``None`` if already closed."""
    row = conn.execute(
        update(Lease)
        .where(_col(Lease, "id") == lease_id, _col(Lease, "closed").is_(False))
        .values(closed=True)
        .returning(
            _col(Lease, "account_id"),
            _col(Lease, "day"),
            _col(Lease, "granted_bytes") - _col(Lease, "used_bytes"),
        )
    ).one_or_none()
    if row is None:
        return None
    account_id, day, unused = row[0], row[1], int(row[2])
    if unused:
        conn.execute(
            update(BudgetDay)
            .where(_col(BudgetDay, "account_id") == account_id, _col(BudgetDay, "day") == day)
            .values(leased_bytes=_col(BudgetDay, "leased_bytes") - unused)
        )
    return unused


def reclaim_idle_leases(
    conn: Connection, *, account_id: str, day: date, holder: str, idle_before: datetime
) -> int:
    """Close other processes' open leases on the account and day unused since ``idle_before``.

    Called when this process is refused: the budget those leases hold would otherwise wait for
    their holders to go idle for ``lease_idle_seconds``. Leases are locked in id order and
    locked ones skipped (their holder is charging them right now, so they are not idle).
    Returns the bytes given back to the day.
    """
    idle = conn.execute(
        select(_col(Lease, "id"))
        .where(
            _col(Lease, "account_id") == account_id,
            _col(Lease, "day") == day,
            _col(Lease, "closed").is_(False),
            _col(Lease, "holder") != holder,
            _col(Lease, "active_at") < idle_before,
            _col(Lease, "used_bytes") < _col(Lease, "granted_bytes"),
        )
        .order_by(_col(Lease, "id"))
        .with_for_update(skip_locked=True)
    ).scalars()
    return sum(close_lease(conn, lease_id) or 0 for lease_id in list(idle))


# The group commit's statements run on the driver's cursor, compiled once per dialect: through
# ``Connection.execute`` each cost 35–110 µs of SQLAlchemy's Python (measured on SQLite), several
# times what the database spends on it, and a group commit runs one per lease plus three more.


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement compiled for one dialect, with its positional parameters' conversions.

    ``params`` holds, in the SQL's order, each parameter's name, its column type's conversion
    and, for a value written into the statement (``values(applied_at=None)``), that value.
    """

    sql: str
    params: tuple[tuple[str, Callable[[Any], Any], Any], ...]

    def execute(self, cursor: Any, **values: Any) -> Any:
        """Run it on a DB-API ``cursor``."""
        cursor.execute(
            self.sql,
            tuple(convert(values.get(name, fixed)) for name, convert, fixed in self.params),
        )
        return cursor


@cache
def driver_statement(statement: Any, dialect: Dialect) -> DriverStatement:
    """``statement`` compiled for ``dialect`` (both dialects used here are positional)."""
    compiled = statement.compile(dialect=dialect)
    if not compiled.positional or compiled.positiontup is None:
        raise RuntimeError(f"{dialect.name}: expected a positional parameter style")
    params = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        params.append((name, processor or _same, None if bind.required else bind.value))
    return DriverStatement(compiled.string, tuple(params))


def _same(value: Any) -> Any:
    return value


_CHARGE = (
    update(Lease)
    .where(
        _col(Lease, "id") == bindparam("lease"),
        _col(Lease, "closed").is_(False),
        _col(Lease, "used_bytes") + bindparam("charge") <= _col(Lease, "granted_bytes"),
    )
    .values(
        used_bytes=_col(Lease, "used_bytes") + bindparam("charge"),
        active_at=bindparam("now"),
    )
)
_BATCH_OPEN = select(_col(StatsBatchRecord, "id")).where(
    _col(StatsBatchRecord, "id") == bindparam("id"),
    _col(StatsBatchRecord, "applied_at").is_(None),
    _col(StatsBatchRecord, "created_at") >= bindparam("since"),
)
_NEW_BATCH = StatsBatchRecord.__table__.insert().values(  # type: ignore[attr-defined]
    id=bindparam("id"), created_at=bindparam("created_at"), applied_at=None
)


@dataclass(frozen=True)
class IssueRow:
    """An issued URL about to be stored, with the leases its bytes come from: the account's
    and, when replicas are capped, the replica's."""

    issued: IssuedUrl
    lease_id: uuid.UUID | None
    offset: int
    replica_lease_id: uuid.UUID | None = None


@dataclass(frozen=True)
class StatsBatchTarget:
    """Which stats batch a group commit's rows join.

    ``batch_id`` was created by an earlier commit of this process when ``append``; the rows join
    it only while it is younger than ``max_age`` (checked under the write lock with the clock
    read then), otherwise they start ``spare_id``. The relay re-reads a batch only once it is
    older than twice that, so it never queues a batch that can still grow.
    """

    batch_id: uuid.UUID
    append: bool
    spare_id: uuid.UUID
    max_age: timedelta


def store_issues(
    conn: Connection,
    *,
    target: StatsBatchTarget,
    clock: Callable[[], datetime],
    rows: Sequence[IssueRow],
) -> tuple[set[uuid.UUID | None], uuid.UUID]:
    """Charge each lease its rows' bytes and store the rows whose leases accepted the charge.

    A lease accepts only while it is open and within its grant (one conditional UPDATE each, in
    id order: the lock order of :func:`close_lease`). Replica leases are charged first, and an
    account lease only for the rows its replicas accepted, so a refused replica costs its
    account nothing. Returns the accepted lease ids (``None`` stands for no lease: zero-byte
    requests, uncapped replicas) and the stats batch the stored rows joined (see
    :class:`StatsBatchTarget`).
    """
    dialect = conn.dialect
    cursor = conn.connection.cursor()
    now = clock()
    charge = driver_statement(_CHARGE, dialect)
    accepted: set[uuid.UUID | None] = {None}

    def charge_leases(leases: Sequence[uuid.UUID | None], amounts: Sequence[int]) -> None:
        usage: dict[uuid.UUID, int] = {}
        for lease_id, amount in zip(leases, amounts, strict=True):
            if lease_id is not None:
                usage[lease_id] = usage.get(lease_id, 0) + amount
        for lease_id in sorted(usage):
            if charge.execute(cursor, lease=lease_id, charge=usage[lease_id], now=now).rowcount:
                accepted.add(lease_id)

    charge_leases([r.replica_lease_id for r in rows], [r.issued.bytes for r in rows])
    capped = [row for row in rows if row.replica_lease_id in accepted]
    charge_leases([r.lease_id for r in capped], [r.issued.bytes for r in capped])
    kept = [row for row in capped if row.lease_id in accepted]
    batch_id = target.batch_id
    if kept:
        joined = False
        if target.append:
            is_open = driver_statement(_BATCH_OPEN, dialect)
            since = now - target.max_age
            joined = is_open.execute(cursor, id=batch_id, since=since).fetchone() is not None
        if not joined:
            batch_id = target.spare_id if target.append else batch_id
            driver_statement(_NEW_BATCH, dialect).execute(cursor, id=batch_id, created_at=now)
        sql, convert = _issue_insert(dialect)
        as_id, as_batch, _, _, as_lease, as_day, _, _, as_time = convert
        # The batch, the day and the few leases are the same for many rows: converted once.
        batch = as_batch(batch_id)
        leases: dict[uuid.UUID | None, Any] = {}
        days: dict[date, Any] = {}
        params = []
        for row in kept:
            issued = row.issued
            lease = leases.get(row.lease_id)
            if lease is None:
                lease = leases[row.lease_id] = as_lease(row.lease_id)
            day = days.get(issued.day)
            if day is None:
                day = days[issued.day] = as_day(issued.day)
            params.append(
                (
                    as_id(issued.id),
                    batch,
                    issued.file_id,
                    issued.account_id,
                    lease,
                    day,
                    row.offset,
                    issued.bytes,
                    as_time(issued.issued_at),
                )
            )
        cursor.executemany(sql, params)
    cursor.close()
    return accepted, batch_id


ISSUE_COLUMNS = (
    "id",
    "batch_id",
    "file_id",
    "account_id",
    "lease_id",
    "day",
    "offset",
    "bytes",
    "issued_at",
)


_INSERT_ISSUE = IssuedUrlRecord.__table__.insert()  # type: ignore[attr-defined]


@cache
def _issue_insert(dialect: Dialect) -> tuple[str, tuple[Callable[[Any], Any], ...]]:
    """The ``issued_urls`` INSERT with each column's conversion, in :data:`ISSUE_COLUMNS` order.

    Rows are built as tuples in that order and handed to the driver's ``executemany``: through
    ``Connection.execute`` SQLAlchemy rebuilt every row's parameters in Python, which cost more
    than the rest of a group commit together (profiled). Stored values are the same: each is
    converted by its column's own bind processor.
    """
    statement = driver_statement(_INSERT_ISSUE, dialect)
    if tuple(name for name, _, _ in statement.params) != ISSUE_COLUMNS:
        raise RuntimeError(f"unexpected parameter order {statement.params}")
    return statement.sql, tuple(convert for _, convert, _ in statement.params)


async def expired_leases(
    session: AsyncSession, before: datetime, limit: int = 100
) -> list[uuid.UUID]:
    """Open leases whose holder let them expire before ``before`` (crashed or stalled)."""
    result = await session.execute(
        select(_col(Lease, "id"))
        .where(_col(Lease, "closed").is_(False), _col(Lease, "expires_at") < before)
        .limit(limit)
    )
    return list(result.scalars())


async def issued_by_account(session: AsyncSession, day: date) -> dict[str, int]:
    """Bytes issued per account on ``day``: exact, since every issue is counted on its lease."""
    result = await session.execute(
        select(_col(Lease, "account_id"), func.sum(_col(Lease, "used_bytes")))
        .where(_col(Lease, "day") == day)
        .group_by(_col(Lease, "account_id"))
    )
    return {row[0]: int(row[1] or 0) for row in result}


async def unapplied_batches(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> list[uuid.UUID]:
    """Stats batches still waiting for their increments, oldest first."""
    result = await session.execute(
        select(_col(StatsBatchRecord, "id"))
        .where(
            _col(StatsBatchRecord, "applied_at").is_(None),
            _col(StatsBatchRecord, "created_at") < created_before,
        )
        .order_by(_col(StatsBatchRecord, "created_at"))
        .limit(limit)
    )
    return list(result.scalars())


async def batch_issues(session: AsyncSession, batch_id: uuid.UUID) -> list[IssuedUrl]:
    """The issued URLs stored in one batch."""
    result = await session.execute(
        select(IssuedUrlRecord).where(_col(IssuedUrlRecord, "batch_id") == batch_id)
    )
    return [
        IssuedUrl(
            id=r.id,
            file_id=r.file_id,
            account_id=r.account_id,
            bytes=r.bytes,
            day=r.day,
            issued_at=r.issued_at,
        )
        for r in result.scalars()
    ]


# --- statistics ------------------------------------------------------------------------------


async def claim_batch(session: AsyncSession, batch_id: uuid.UUID, now: datetime) -> bool:
    """Mark a batch applied; ``False`` if it was already (or is unknown: nothing to apply)."""
    result = await session.execute(
        update(StatsBatchRecord)
        .where(
            _col(StatsBatchRecord, "id") == batch_id, _col(StatsBatchRecord, "applied_at").is_(None)
        )
        .values(applied_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _add(
    session: AsyncSession, model: Any, keys: dict[str, Any], downloads: int, nbytes: int
) -> None:
    stmt = _insert(session, model).values(**keys, downloads=downloads, bytes=nbytes)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                "downloads": _col(model, "downloads") + stmt.excluded.downloads,
                "bytes": _col(model, "bytes") + stmt.excluded.bytes,
            },
        )
    )


async def add_increments(session: AsyncSession, batch: StatsBatch) -> None:
    """Add a batch's increments to the all-time and per-day counters (sorted: no deadlocks)."""

    async def apply(incs: Sequence[Increment], total: Any, daily: Any, key: str) -> None:
        totals: dict[str, list[int]] = {}
        for inc in sorted(incs, key=lambda i: (i.key, i.day)):
            await _add(session, daily, {key: inc.key, "day": inc.day}, inc.downloads, inc.bytes)
            acc = totals.setdefault(inc.key, [0, 0])
            acc[0] += inc.downloads
            acc[1] += inc.bytes
        for k in sorted(totals):
            await _add(session, total, {key: k}, totals[k][0], totals[k][1])

    await apply(batch.files, FileStats, FileDayStats, "file_id")
    await apply(batch.accounts, AccountStats, AccountDayStats, "account_id")


# --- reports ---------------------------------------------------------------------------------

FILE_SORTS = ("id", "name", "size", "downloads", "bytes_today", "bytes_total")
ACCOUNT_SORTS = ("id", "email", "downloads", "bytes_today", "bytes_total", "remaining_today")


def _file_query(day: date) -> Select[Any]:
    today = (
        select(
            _col(FileDayStats, "file_id"),
            _col(FileDayStats, "downloads"),
            _col(FileDayStats, "bytes"),
        )
        .where(_col(FileDayStats, "day") == day)
        .subquery()
    )
    return (
        select(
            _col(File, "id").label("id"),
            _col(File, "name").label("name"),
            _col(File, "size").label("size"),
            _col(File, "status").label("status"),
            func.coalesce(_col(FileStats, "downloads"), 0).label("downloads"),
            func.coalesce(today.c.downloads, 0).label("downloads_today"),
            func.coalesce(today.c.bytes, 0).label("bytes_today"),
            func.coalesce(_col(FileStats, "bytes"), 0).label("bytes_total"),
        )
        .select_from(File)
        .outerjoin(FileStats, _col(FileStats, "file_id") == _col(File, "id"))
        .outerjoin(today, today.c.file_id == _col(File, "id"))
        .where(_col(File, "deleted").is_(False))
    )


def _account_query(day: date) -> Select[Any]:
    today = (
        select(
            _col(AccountDayStats, "account_id"),
            _col(AccountDayStats, "downloads"),
            _col(AccountDayStats, "bytes"),
        )
        .where(_col(AccountDayStats, "day") == day)
        .subquery()
    )
    issued = (
        select(_col(Lease, "account_id"), func.sum(_col(Lease, "used_bytes")).label("issued"))
        .where(_col(Lease, "day") == day)
        .group_by(_col(Lease, "account_id"))
        .subquery()
    )
    issued_today = func.coalesce(issued.c.issued, 0)
    budget = _col(Account, "daily_budget_bytes")
    return (
        select(
            _col(Account, "id").label("id"),
            _col(Account, "email").label("email"),
            _col(Account, "enabled").label("enabled"),
            budget.label("daily_budget_bytes"),
            func.coalesce(_col(AccountStats, "downloads"), 0).label("downloads"),
            func.coalesce(today.c.downloads, 0).label("downloads_today"),
            func.coalesce(today.c.bytes, 0).label("bytes_today"),
            func.coalesce(_col(AccountStats, "bytes"), 0).label("bytes_total"),
            issued_today.label("issued_today"),
            case((issued_today >= budget, literal(0)), else_=budget - issued_today).label(
                "remaining_today"
            ),
        )
        .select_from(Account)
        .outerjoin(AccountStats, _col(AccountStats, "account_id") == _col(Account, "id"))
        .outerjoin(today, today.c.account_id == _col(Account, "id"))
        .outerjoin(issued, issued.c.account_id == _col(Account, "id"))
        .where(_col(Account, "deleted").is_(False))
    )


async def _page(
    session: AsyncSession,
    query: Select[Any],
    *,
    sort: str,
    descending: bool,
    limit: int | None,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    total = int(
        (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    )
    sub = query.subquery()
    key: ColumnElement[Any] = sub.c[sort]
    stmt = (
        select(sub).order_by(key.desc() if descending else key.asc(), sub.c.id.asc()).offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = await session.execute(stmt)
    return [dict(row._mapping) for row in rows], total


async def file_report(
    session: AsyncSession, *, day: date, sort: str, descending: bool, limit: int | None, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the files' figures and the number of files."""
    return await _page(
        session, _file_query(day), sort=sort, descending=descending, limit=limit, offset=offset
    )


async def account_report(
    session: AsyncSession, *, day: date, sort: str, descending: bool, limit: int | None, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the accounts' figures and the number of accounts."""
    return await _page(
        session, _account_query(day), sort=sort, descending=descending, limit=limit, offset=offset
    )


async def file_figures(session: AsyncSession, *, day: date, file_id: str) -> dict[str, Any] | None:
    """One file's figures, or ``None`` if the file is unknown or deleted."""
    row = (
        await session.execute(_file_query(day).where(and_(_col(File, "id") == file_id)))
    ).one_or_none()
    return dict(row._mapping) if row else None


async def account_figures(
    session: AsyncSession, *, day: date, account_id: str
) -> dict[str, Any] | None:
    """One account's figures, or ``None`` if the account is unknown or deleted."""
    row = (
        await session.execute(_account_query(day).where(_col(Account, "id") == account_id))
    ).one_or_none()
    return dict(row._mapping) if row else None
