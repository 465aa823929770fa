"""Drive's limits, enforced where the bytes flow: per account per day, per file, per minute.

- Downloads: a download (or range) that would take the owner's day past its budget is refused
  with ``downloadQuotaExceeded`` before a byte is sent; its size is reserved up front, so
  concurrent downloads cannot overshoot, and bytes that never left are refunded when a client
  goes away, so the ledger holds what actually flowed.
- Hot files: a file whose downloads of the day would pass its cap is locked for
  ``file_lock_seconds`` (a day by default): it answers ``downloadQuotaExceeded`` whatever its
  account's budget, as Drive does, so hot content needs several replicas (distinct file ids).
- Uploads: as at Google, an upload that starts under the 750 GB/day cap completes; once the day's
  uploads reach the cap (or a file alone exceeds it) new uploads get the upload-limit error.
  Copies count as uploads of the destination account. Storage is checked for every new file.
- Requests: a token bucket per account (requests per minute) answers
  ``userRateLimitExceeded``.

Days follow an emulated clock (real UTC plus an offset the admin API can advance, persisted),
cut at ``rollover_utc``: advancing past the boundary is how tests see a budget come back.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as day_time

from services.drive_emulator import errors
from services.drive_emulator.config import EmulatorSettings, Limits
from services.drive_emulator.store import Account, FileRecord, Store
from services.shared.days import budget_day, next_rollover

CLOCK_OFFSET_KEY = "clock_offset_seconds"


class Clock:
    """Real UTC time shifted by a persisted offset."""

    def __init__(self, store: Store, rollover: day_time, offset: float) -> None:
        self._store = store
        self.rollover = rollover
        self.offset = offset

    @classmethod
    async def load(cls, store: Store, rollover: day_time) -> Clock:
        saved = await store.get_state(CLOCK_OFFSET_KEY)
        return cls(store, rollover, float(saved) if saved else 0.0)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def day(self) -> str:
        """The current ledger day, ``YYYY-MM-DD``."""
        return budget_day(self.now(), self.rollover).isoformat()

    async def advance(self, seconds: float) -> None:
        self.offset += seconds
        await self._store.set_state(CLOCK_OFFSET_KEY, repr(self.offset))

    async def roll_over(self) -> None:
        """Jump to the start of the next ledger day."""
        now = self.now()
        await self.advance((next_rollover(now, self.rollover) - now).total_seconds())


class RateLimiter:
    """A token bucket per account, refilled continuously at ``per_minute / 60`` a second."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, account_id: str, per_minute: int) -> bool:
        if per_minute <= 0:
            return True
        now = time.monotonic()
        tokens, seen = self._buckets.get(account_id, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - seen) * per_minute / 60)
        allowed = tokens >= 1
        self._buckets[account_id] = (tokens - 1 if allowed else tokens, now)
        return allowed


@dataclass(frozen=True)
class Reservation:
    """Download bytes charged up front to an account's and a file's ledger of one day."""

    day: str
    account_id: str
    file_id: str
    size: int


@dataclass(frozen=True)
class Usage:
    day: str
    downloaded_bytes: int
    uploaded_bytes: int
    stored_bytes: int


class Quotas:
    """Checks and charges the ledgers; one lock makes check-and-charge atomic."""

    def __init__(self, store: Store, clock: Clock, settings: EmulatorSettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._lock = asyncio.Lock()
        self.rate = RateLimiter()

    def limits(self, account: Account) -> Limits:
        return self._settings.limits.model_copy(update=account.limits)

    async def usage(self, account: Account) -> Usage:
        day = self._clock.day()
        downloaded, uploaded = await self._store.usage(day, account.id)
        stored = await self._store.stored_bytes(account.id)
        return Usage(day, downloaded, uploaded, stored)

    def check_rate(self, account: Account) -> None:
        if not self.rate.allow(account.id, self.limits(account).requests_per_minute):
            raise errors.user_rate_limit()

    async def reserve_download(self, owner: Account, file: FileRecord, size: int) -> Reservation:
        """Charge ``size`` bytes of ``file`` to its owner, or refuse the download."""
        limits = self.limits(owner)
        async with self._lock:
            now = self._clock.timestamp()
            locked_until = await self._store.file_locked_until(file.id)
            if locked_until is not None and locked_until > now:
                raise errors.download_quota()
            day = self._clock.day()
            downloaded, _ = await self._store.usage(day, owner.id)
            budget = limits.download_bytes_per_day
            if budget and downloaded + size > budget:
                raise errors.download_quota()
            cap = limits.file_download_bytes_per_day
            if cap and await self._store.file_downloaded(day, file.id) + size > cap:
                await self._store.lock_file(file.id, now + self._settings.file_lock_seconds)
                raise errors.download_quota()
            await self._store.charge(day, owner.id, downloaded=size, file_id=file.id)
        return Reservation(day, owner.id, file.id, size)

    async def settle(self, reservation: Reservation, sent: int) -> None:
        """Refund the bytes of a reservation that were never sent."""
        unsent = reservation.size - sent
        if unsent > 0:
            await self._store.charge(
                reservation.day,
                reservation.account_id,
                downloaded=-unsent,
                file_id=reservation.file_id,
            )

    async def check_new_file(
        self, account: Account, size: int | None, *, upload_cap: bool = True
    ) -> None:
        """Refuse a new file (upload or copy) the account's limits do not allow.

        ``upload_cap=False`` when a resumable upload completes: it passed the cap when it
        started, and Drive lets uploads in progress finish.
        """
        limits = self.limits(account)
        async with self._lock:
            if upload_cap and limits.upload_bytes_per_day:
                _, uploaded = await self._store.usage(self._clock.day(), account.id)
                if uploaded >= limits.upload_bytes_per_day or (
                    size is not None and size > limits.upload_bytes_per_day
                ):
                    raise errors.upload_limit()
            if size is not None and limits.storage_bytes:
                stored = await self._store.stored_bytes(account.id)
                if stored + size > limits.storage_bytes:
                    raise errors.storage_quota()

    async def record_upload(self, account: Account, size: int) -> None:
        await self._store.charge(self._clock.day(), account.id, uploaded=size)
