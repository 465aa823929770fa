"""The in-memory catalog every download request reads: no database round trip per lookup.

Each process keeps accounts and files (with their ready replicas) in dictionaries and refreshes
them incrementally: applying an event batch bumps a revision counter in the database, and a
refresh loads only the rows changed since the revision it last saw. A lookup that would refuse
(the file unknown here, not uploaded yet, or with no account to serve it) triggers a refresh
first, so a change applied by one process is seen at once by the others, not at their next
background refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.downloader import repository
from services.downloader.leases import replica_key
from services.shared.events import FileStatus, ReplicaState


@dataclass(frozen=True, slots=True)
class CachedAccount:
    """What balancing needs to know about an account."""

    id: str
    daily_budget_bytes: int
    servable: bool


@dataclass(frozen=True, slots=True)
class CachedReplica:
    """A ready copy: the account that serves it, Drive's id for it there, its download URL,
    and the key of its daily cap in the budget ledger."""

    account_id: str
    drive_file_id: str
    url: str
    cap_key: str


@dataclass(frozen=True, slots=True)
class Servers:
    """The accounts that may serve a file now, each with its replica; ``candidates`` are
    ``(account id, daily budget)`` in id order, as :meth:`Balancer.order` takes them."""

    by_account: dict[str, tuple[CachedAccount, CachedReplica]]
    candidates: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CachedFile:
    """A file as the download path sees it."""

    id: str
    name: str
    size: int
    status: FileStatus
    deleted: bool
    replicas: tuple[CachedReplica, ...]


class Catalog:
    """Accounts and files of this process, refreshed from the database."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], url: Callable[[str, int], str]
    ) -> None:
        self._sessions = sessions
        self._url = url  # (Drive file id, size) -> download URL, built once per replica
        self._lock = asyncio.Lock()
        self.rev = -1
        self.accounts: dict[str, CachedAccount] = {}
        self.files: dict[str, CachedFile] = {}
        self._servers: dict[str, Servers] = {}  # per file id, until the next change

    async def refresh(self) -> None:
        """Load what changed since the last refresh (one cheap query when nothing did)."""
        seen = self.rev
        async with self._lock:
            if self.rev != seen:  # another caller refreshed while we waited
                return
            async with self._sessions() as session:
                changes = await repository.changes_since(session, self.rev)
            for a in changes.accounts:
                self.accounts[a.id] = CachedAccount(
                    a.id, a.daily_budget_bytes, a.enabled and not a.deleted
                )
            for f in changes.files:
                ready = tuple(
                    CachedReplica(
                        r.account_id,
                        r.drive_file_id,
                        self._url(r.drive_file_id, f.size),
                        replica_key(r.account_id, r.drive_file_id),
                    )
                    for r in sorted(changes.replicas.get(f.id, ()), key=lambda r: r.account_id)
                    if r.state == ReplicaState.READY and r.drive_file_id
                )
                self.files[f.id] = CachedFile(
                    f.id, f.name, f.size, FileStatus(f.status), f.deleted, ready
                )
            if changes.accounts or changes.files:
                self._servers.clear()
            self.rev = changes.rev

    async def file(self, file_id: str) -> CachedFile | None:
        """The file, refreshing once if this process would refuse it as it knows it: the
        event that makes it servable may have been applied by another process (two
        Downloaders on PostgreSQL answered 409 for a file the other served, on kind)."""
        found = self.files.get(file_id)
        if found is None or not self._servable(found):
            await self.refresh()
            found = self.files.get(file_id)
        return found

    def _servable(self, file: CachedFile) -> bool:
        return (
            not file.deleted
            and file.status == FileStatus.UPLOADED
            and bool(self.servers(file).candidates)
        )

    def servers(self, file: CachedFile) -> Servers:
        """Accounts that hold a ready replica of ``file`` and may serve downloads (worked out
        once per file between two changes of the catalog: every download asks)."""
        found = self._servers.get(file.id)
        if found is None:
            by_account = {}
            for replica in file.replicas:
                account = self.accounts.get(replica.account_id)
                if account is not None and account.servable and account.daily_budget_bytes > 0:
                    by_account[account.id] = (account, replica)
            candidates = tuple(sorted((a.id, a.daily_budget_bytes) for a, _ in by_account.values()))
            found = self._servers[file.id] = Servers(by_account, candidates)
        return found
