"""The hard budget guard: budget leases from the database, allocation in memory.

Each process leases blocks of an account's remaining budget for the day with one short
transaction, then hands out bytes from its lease without touching the database. The guarantee
that the bytes issued per account per day never exceed its budget rests on three facts:

* the database never leases out more than the budget (``budget_days.leased_bytes``, changed
  under the row's lock);
* an issued URL is stored only if, in the same transaction, its lease is still open and its
  ``used_bytes`` stay within ``granted_bytes`` (see :func:`repository.store_issues`), and the
  response is sent only after that commit;
* closing a lease returns exactly ``granted - used`` to the day, and a closed lease accepts no
  more charges.

So a process that stalls or dies can only lose the unused part of its lease until it expires;
then any process reclaims it. A process the database refuses also closes its peers' leases on
that account that have not been used for ``lease_reclaim_idle_seconds`` and asks again: near the
end of a budget, the last bytes would otherwise sit in leases whose holders have no request they
fit, while this process has one. Leases are tied to a budget day: at the rollover a new day
starts with the full budget and old leases are closed.

The same ledger, keyed by :func:`replica_key` instead of an account id, guards each replica's
daily cap (``replica_daily_cap_bytes``): Drive locks a file for a day once its downloads pass an
unpublished per-file limit, whatever its account's budget, so a URL is issued only when both the
account's lease and the replica's accept its bytes (:func:`repository.store_issues`).

Every lease transaction is one call to the writer (:mod:`services.downloader.writer`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.downloader import metrics, repository
from services.downloader.config import Settings
from services.downloader.writer import Writer

log = logging.getLogger(__name__)

GROW_WITHIN_SECONDS = 1.0
"""A lease that needs a top-up this soon after its last grant doubles its block: under heavy
demand an account would otherwise cost a database transaction every few requests. The database
still grants at most ``1/lease_share`` of what is left."""


def replica_key(account_id: str, drive_file_id: str) -> str:
    """The ledger key of one replica's daily cap: Drive counts per file id, so a fresh copy
    (another id) starts a fresh count. Hashed to fit the 64 characters of an account id
    column; the ``r`` prefix and the length (33) keep it apart from account ids (32 hex)."""
    digest = hashlib.blake2b(f"{account_id}/{drive_file_id}".encode(), digest_size=16)
    return "r" + digest.hexdigest()


@dataclass(slots=True)
class Slot:
    """This process's open lease on one account for one day."""

    lease_id: uuid.UUID
    account_id: str
    day: date
    granted: int
    allocated: int
    expires_at: datetime
    last_used: float
    block: int
    granted_at: float

    @property
    def available(self) -> int:
        return self.granted - self.allocated


class BudgetLedger:
    """Leases of this process and the in-memory allocation from them."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        writer: Writer,
        *,
        gauged: bool = True,
    ) -> None:
        self._settings = settings
        self._gauge = gauged  # one gauge per key: accounts yes, replicas (thousands) no
        self._sessions = sessions
        self._writer = writer
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._slots: dict[str, Slot] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # account -> (day, bytes the database could still lease, when we learnt it)
        self._short: dict[str, tuple[date, int, float]] = {}
        self._gauged: set[str] = set()
        self._ttl = timedelta(seconds=settings.lease_ttl_seconds)
        self._margin = timedelta(seconds=settings.lease_ttl_seconds / 4)

    def _usable(self, slot: Slot, day: date, now: datetime) -> bool:
        # Stop drawing on a lease well before it expires: a charge that commits after another
        # process has reclaimed the lease would be refused (safe, but a wasted request).
        return slot.day == day and now < slot.expires_at - self._margin

    async def allocate(
        self, account_id: str, *, day: date, nbytes: int, budget: int, now: datetime
    ) -> uuid.UUID | None:
        """Reserve ``nbytes`` of the account's budget for ``day``; the lease id, or ``None``."""
        slot = self._slots.get(account_id)
        if slot is not None and slot.available >= nbytes and self._usable(slot, day, now):
            slot.allocated += nbytes
            slot.last_used = time.monotonic()
            return slot.lease_id
        if self._known_short(account_id, day, nbytes):
            return None
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            if self._known_short(account_id, day, nbytes):  # learnt while we queued
                return None
            return await self._allocate_locked(account_id, day, nbytes, budget, now)

    def _known_short(self, account_id: str, day: date, nbytes: int) -> bool:
        """Whether the database said a moment ago that it had less than this left."""
        short = self._short.get(account_id)
        if short is None or short[0] != day:
            return False
        if time.monotonic() - short[2] >= self._settings.exhausted_recheck_seconds:
            return False
        slot = self._slots.get(account_id)
        return nbytes > short[1] + (slot.available if slot and slot.day == day else 0)

    async def _allocate_locked(
        self, account_id: str, day: date, nbytes: int, budget: int, now: datetime
    ) -> uuid.UUID | None:
        slot = self._slots.get(account_id)
        if slot is not None and (slot.day != day or not self._usable(slot, day, now)):
            await self._close(slot)
            slot = None
        if slot is not None and slot.available >= nbytes:  # topped up while we waited
            slot.allocated += nbytes
            slot.last_used = time.monotonic()
            return slot.lease_id
        need = nbytes - (slot.available if slot else 0)
        lease_id = slot.lease_id if slot else uuid.uuid4()
        expires_at = now + self._ttl
        block = self._settings.lease_block_bytes
        if slot is not None:
            block = slot.block
            if time.monotonic() - slot.granted_at < GROW_WITHIN_SECONDS:
                block *= 2
        grant = partial(
            repository.grant_budget,
            lease_id=lease_id,
            new_lease=slot is None,
            account_id=account_id,
            day=day,
            budget=budget,
            need=need,
            block=block,
            share=self._settings.lease_share,
            holder=self.holder,
            expires_at=expires_at,
            now=now,
        )
        granted = await self._writer.run(grant)
        if granted == 0 and await self._reclaim_idle(account_id, day, now):
            granted = await self._writer.run(grant)
        if granted == 0:
            metrics.LEASES.labels("refused").inc()
            self._short[account_id] = (day, need - 1, time.monotonic())
            if slot is not None and not self._usable(slot, day, now):
                self._slots.pop(account_id, None)
            return None
        metrics.LEASES.labels("granted" if slot is None else "topped_up").inc()
        metrics.LEASE_BYTES.labels("granted").inc(granted)
        self._short.pop(account_id, None)
        if slot is None:
            slot = Slot(lease_id, account_id, day, 0, 0, expires_at, 0.0, block, 0.0)
            self._slots[account_id] = slot
        slot.block = block
        slot.granted_at = time.monotonic()
        slot.granted += granted
        slot.expires_at = expires_at
        slot.allocated += nbytes
        slot.last_used = time.monotonic()
        return slot.lease_id

    def release(self, account_id: str, lease_id: uuid.UUID | None, nbytes: int) -> None:
        """Give back an allocation whose URL was not stored (the transaction rolled back)."""
        slot = self._slots.get(account_id)
        if slot is not None and slot.lease_id == lease_id:
            slot.allocated -= nbytes

    def forget(self, lease_id: uuid.UUID | None) -> None:
        """Drop a lease the database no longer accepts charges on (it was reclaimed)."""
        for account_id, slot in list(self._slots.items()):
            if slot.lease_id == lease_id:
                del self._slots[account_id]
                metrics.LEASES.labels("lost").inc()

    async def _reclaim_idle(self, account_id: str, day: date, now: datetime) -> int:
        """Close peers' leases on the account left unused lately; the bytes given back."""
        idle_before = now - timedelta(seconds=self._settings.lease_reclaim_idle_seconds)
        returned = await self._writer.run(
            partial(
                repository.reclaim_idle_leases,
                account_id=account_id,
                day=day,
                holder=self.holder,
                idle_before=idle_before,
            )
        )
        if returned:
            log.info("reclaimed %d idle bytes of %s from other processes", returned, account_id)
            metrics.LEASES.labels("reclaimed").inc()
            metrics.LEASE_BYTES.labels("reclaimed").inc(returned)
        return returned

    async def _close(self, slot: Slot) -> None:
        returned = await self._writer.run(partial(repository.close_lease, lease_id=slot.lease_id))
        if self._slots.get(slot.account_id) is slot:
            del self._slots[slot.account_id]
        self._short.pop(slot.account_id, None)  # the returned bytes may make it fit again
        metrics.LEASES.labels("released").inc()
        metrics.LEASE_BYTES.labels("returned").inc(returned or 0)

    async def maintain(self, *, day: date, now: datetime) -> None:
        """Renew busy leases, return idle or stale ones, reclaim leases of dead processes."""
        idle = self._settings.lease_idle_seconds
        for slot in list(self._slots.values()):
            lock = self._locks.setdefault(slot.account_id, asyncio.Lock())
            async with lock:
                if self._slots.get(slot.account_id) is not slot:
                    continue
                if slot.day != day or time.monotonic() - slot.last_used > idle:
                    await self._close(slot)
                elif slot.expires_at - now < self._ttl / 2:
                    expires_at = now + self._ttl
                    kept = await self._writer.run(
                        partial(
                            repository.extend_lease, lease_id=slot.lease_id, expires_at=expires_at
                        )
                    )
                    if kept:
                        slot.expires_at = expires_at
                        metrics.LEASES.labels("renewed").inc()
                    else:
                        self.forget(slot.lease_id)
        if self._gauge:
            self._gauged |= self._slots.keys()
        for account_id in self._gauged:
            held = self._slots.get(account_id)
            metrics.LEASE_AVAILABLE.labels(account_id).set(held.available if held else 0)
        grace = timedelta(seconds=self._settings.lease_grace_seconds)
        async with self._sessions() as session:
            expired = await repository.expired_leases(session, now - grace)
        for lease_id in expired:
            returned = await self._writer.run(partial(repository.close_lease, lease_id=lease_id))
            if returned is not None:
                log.info(
                    "reclaimed expired lease %s (%d bytes back to the pool)", lease_id, returned
                )
                metrics.LEASES.labels("reclaimed").inc()
                metrics.LEASE_BYTES.labels("reclaimed").inc(returned)

    async def close_all(self) -> None:
        """Return every lease of this process (at shutdown)."""
        for slot in list(self._slots.values()):
            try:
                await self._close(slot)
            except Exception:  # the lease expires and is reclaimed by another process
                log.exception("could not return lease %s", slot.lease_id)
