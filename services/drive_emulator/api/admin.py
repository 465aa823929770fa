"""The emulator's own admin API (``/_emulator``): accounts and their credentials, limits,
fault injection and the clock. Every route needs the admin token."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from services.drive_emulator.auth import AccountKind, create_account
from services.drive_emulator.config import Limits, LimitsUpdate
from services.drive_emulator.deps import RuntimeDep, require_admin
from services.drive_emulator.faults import FaultConfig
from services.drive_emulator.runtime import Runtime
from services.drive_emulator.service import timestamp
from services.drive_emulator.store import Account
from services.shared.days import next_rollover

router = APIRouter(prefix="/_emulator", tags=["admin"], dependencies=[Depends(require_admin)])


class AccountCreate(BaseModel):
    kind: AccountKind = "authorized_user"
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=200)
    limits: LimitsUpdate = Field(default_factory=LimitsUpdate)


class UsageView(BaseModel):
    day: str
    downloaded_bytes: int
    uploaded_bytes: int
    stored_bytes: int


class AccountView(BaseModel):
    """An account as the admin sees it: never its secrets."""

    id: str
    email: str
    display_name: str
    kind: str
    revoked: bool
    limits: Limits
    usage: UsageView


class AccountCreated(BaseModel):
    account: AccountView
    credentials: dict[str, Any] = Field(description="shown once: the emulator keeps only hashes")


class StoredFileView(BaseModel):
    """A file as stored, whatever its sharing: what the account really holds."""

    id: str
    name: str
    size: int
    md5: str
    created_at: str


class ClockView(BaseModel):
    now: datetime
    day: str
    offset_seconds: float
    next_rollover: datetime


MAX_ADVANCE_SECONDS = 100 * 366 * 86_400
"""One advance moves the clock at most a century (the offset is persisted: an overflowing one
would make every later request fail, restarts included)."""
LAST_YEAR = 9000


class ClockAdvance(BaseModel):
    seconds: float = Field(gt=0, le=MAX_ADVANCE_SECONDS)


async def _view(runtime: Runtime, account: Account) -> AccountView:
    usage = await runtime.quotas.usage(account)
    return AccountView(
        id=account.id,
        email=account.email,
        display_name=account.display_name,
        kind=account.kind,
        revoked=account.revoked,
        limits=runtime.quotas.limits(account),
        usage=UsageView(**usage.__dict__),
    )


async def _account(runtime: Runtime, account_id: str) -> Account:
    account = await runtime.store.account(account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {account_id}")
    return account


def _clock(runtime: Runtime) -> ClockView:
    now = runtime.clock.now()
    return ClockView(
        now=now,
        day=runtime.clock.day(),
        offset_seconds=runtime.clock.offset,
        next_rollover=next_rollover(now, runtime.clock.rollover),
    )


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
async def add_account(body: AccountCreate, request: Request, runtime: RuntimeDep) -> AccountCreated:
    """Create an account; the answer holds its credentials JSON (token_uri: this emulator)."""
    if body.email and await runtime.store.account_by("email", body.email):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{body.email} already exists")
    issued = await create_account(
        runtime.store,
        kind=body.kind,
        email=body.email,
        display_name=body.display_name,
        limits=body.limits.model_dump(exclude_none=True),
        token_uri=f"{runtime.root_url(request)}token",
        created_at=timestamp(runtime),
    )
    await runtime.refresh_stored(issued.account.id)
    return AccountCreated(
        account=await _view(runtime, issued.account), credentials=issued.credentials
    )


@router.get("/accounts")
async def list_accounts(runtime: RuntimeDep) -> list[AccountView]:
    """Every account with its limits and today's usage."""
    return [await _view(runtime, account) for account in await runtime.store.accounts()]


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, runtime: RuntimeDep) -> AccountView:
    """One account with its limits and today's usage."""
    return await _view(runtime, await _account(runtime, account_id))


@router.get("/accounts/{account_id}/files")
async def list_account_files(account_id: str, runtime: RuntimeDep) -> list[StoredFileView]:
    """Every file the account holds, oldest first (for consistency checks: no paging)."""
    await _account(runtime, account_id)
    return [
        StoredFileView(id=f.id, name=f.name, size=f.size, md5=f.md5, created_at=f.created_at)
        for f in await runtime.store.files(account_id)
    ]


@router.patch("/accounts/{account_id}/limits")
async def set_limits(account_id: str, body: LimitsUpdate, runtime: RuntimeDep) -> AccountView:
    """Change some of an account's limits (omitted ones keep their value)."""
    account = await _account(runtime, account_id)
    await runtime.store.set_limits(
        account_id, {**account.limits, **body.model_dump(exclude_none=True)}
    )
    return await _view(runtime, await _account(runtime, account_id))


@router.post("/accounts/{account_id}/revoke")
async def revoke(account_id: str, runtime: RuntimeDep) -> AccountView:
    """Revoke the account's grants and tokens, as a user removing the app's access would."""
    await _account(runtime, account_id)
    await runtime.store.revoke(account_id)
    return await _view(runtime, await _account(runtime, account_id))


@router.get("/faults")
async def get_faults(runtime: RuntimeDep) -> FaultConfig:
    """The fault rules, with how often each fired."""
    return runtime.faults.config


@router.put("/faults")
async def set_faults(body: FaultConfig, runtime: RuntimeDep) -> FaultConfig:
    """Replace the fault rules, latency and seed."""
    runtime.faults.configure(body)
    return runtime.faults.config


@router.delete("/faults")
async def clear_faults(runtime: RuntimeDep) -> FaultConfig:
    """Stop injecting faults."""
    runtime.faults.configure(FaultConfig())
    return runtime.faults.config


@router.get("/clock")
async def get_clock(runtime: RuntimeDep) -> ClockView:
    """The emulated time and ledger day."""
    return _clock(runtime)


@router.post("/clock/advance")
async def advance_clock(body: ClockAdvance, runtime: RuntimeDep) -> ClockView:
    """Move the emulated time forward (tokens expire, locks lapse, days roll over)."""
    try:
        later = runtime.clock.now() + timedelta(seconds=body.seconds)
    except OverflowError:
        later = None
    if later is None or later.year > LAST_YEAR:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the emulated clock cannot go past the year {LAST_YEAR}"
        )
    await runtime.clock.advance(body.seconds)
    return _clock(runtime)


@router.post("/clock/rollover")
async def roll_over(runtime: RuntimeDep) -> ClockView:
    """Jump to the start of the next ledger day: every daily budget is whole again."""
    await runtime.clock.roll_over()
    return _clock(runtime)
