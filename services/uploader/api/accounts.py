"""``/accounts``: the pool of Drive accounts (credentials are accepted, never shown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, status

from services.shared.openapi import errors
from services.uploader import service
from services.uploader.deps import AccountDep, DrivesDep, JobsDep, VaultDep, require_admin
from services.uploader.schemas import (
    MANAGER_HEADER,
    AccountCheck,
    AccountCreate,
    AccountRead,
    AccountUpdate,
    Page,
)

router = APIRouter(
    prefix="/accounts",
    tags=["accounts"],
    dependencies=[Depends(require_admin)],
    responses=errors(401),
)

ManagerHeader = Annotated[
    str | None,
    Header(
        alias=MANAGER_HEADER,
        description="required, equal to the account's managed_by, to change a managed account",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    responses=errors(400, _409="an account with this email exists already"),
)
async def create_account(data: AccountCreate, vault: VaultDep, jobs: JobsDep) -> AccountRead:
    """Register a Drive account; its credentials are stored encrypted."""
    account = await service.create_account(data=data, vault=vault, jobs=jobs)
    return AccountRead.of(account, replicas=0, stored_bytes=0)


@router.get("", response_model=Page[AccountRead])
async def list_accounts(
    email: Annotated[str | None, Query(max_length=320, description="exact match")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[AccountRead]:
    """Accounts by email, a page at a time."""
    return await service.list_accounts(offset=offset, limit=limit, email=email)


@router.get("/{account_id}", response_model=AccountRead, responses=errors(_404="unknown account"))
async def get_account(account: AccountDep) -> AccountRead:
    """One account."""
    return await service.account_read(account)


@router.patch(
    "/{account_id}",
    response_model=AccountRead,
    responses=errors(
        400,
        _404="unknown account",
        _409="managed by someone else, being deleted, or the email is taken",
    ),
)
async def update_account(
    account_id: str,
    data: AccountUpdate,
    vault: VaultDep,
    jobs: JobsDep,
    manager: ManagerHeader = None,
) -> AccountRead:
    """Change an account (email, name, credentials, budget, enabled, manager)."""
    account = await service.update_account(
        account_id=account_id, data=data, manager=manager, vault=vault, jobs=jobs
    )
    return await service.account_read(account)


@router.delete(
    "/{account_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AccountRead,
    responses=errors(_404="unknown account", _409="managed by someone else"),
)
async def delete_account(
    account_id: str, jobs: JobsDep, manager: ManagerHeader = None
) -> AccountRead:
    """Drain and delete an account: its replicas leave the Downloader first, then Drive."""
    account = await service.delete_account(account_id=account_id, manager=manager, jobs=jobs)
    return await service.account_read(account)


@router.post(
    "/{account_id}:check",
    response_model=AccountCheck,
    responses=errors(_404="unknown account", _503="Drive did not answer usably; try later"),
)
async def check_account(account_id: str, drives: DrivesDep, jobs: JobsDep) -> AccountCheck:
    """Try the stored credentials with one cheap Drive call; 503 when Drive cannot tell."""
    return await service.check_account(account_id=account_id, drives=drives, jobs=jobs)
