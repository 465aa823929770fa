"""Everything one emulator process holds, built at startup and closed at shutdown.

Routes reach it through ``request.app.state.runtime`` (see :mod:`.deps`). :meth:`Runtime.guard`
is the one gate every Drive request passes once its account is known: injected latency and
faults first, then the account's request rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from services.drive_emulator import metrics
from services.drive_emulator.config import EmulatorSettings
from services.drive_emulator.faults import Faults
from services.drive_emulator.quota import Clock, Quotas
from services.drive_emulator.store import Account, Store


@dataclass
class Runtime:
    """Settings, store, clock, quotas and faults of the running emulator."""

    settings: EmulatorSettings
    store: Store
    clock: Clock
    quotas: Quotas
    faults: Faults

    @classmethod
    async def start(cls, settings: EmulatorSettings) -> Runtime:
        store = await Store.open(settings.data_dir)
        clock = await Clock.load(store, settings.rollover_utc)
        runtime = cls(
            settings, store, clock, Quotas(store, clock, settings), Faults(settings.fault_seed)
        )
        for account in await store.accounts():
            await runtime.refresh_stored(account.id)
        return runtime

    async def close(self) -> None:
        await self.store.close()

    def root_url(self, request: Request) -> str:
        """The URL clients reach the emulator on (for Location headers and credentials)."""
        return self.settings.public_url or str(request.base_url)

    async def guard(self, request: Request, account: Account | None) -> int | None:
        """Apply latency, faults and the rate limit; a drop fault's byte budget, if one fired."""
        drop = await self.faults.apply(
            method=request.method,
            path=request.url.path,
            account_id=account.id if account else None,
        )
        if account is not None:
            self.quotas.check_rate(account)
        return drop

    async def refresh_stored(self, account_id: str) -> None:
        metrics.BYTES_STORED.labels(account_id).set(await self.store.stored_bytes(account_id))
