"""``/accounts``: the pool of Drive accounts (credentials are accepted, never shown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from services.uploader import repository, service
from services.uploader.deps import AccountDep, JobsDep, VaultDep, require_admin
from services.uploader.schemas import AccountCreate, AccountRead, AccountUpdate, Page

router = APIRouter(prefix="/accounts", tags=["accounts"], dependencies=[Depends(require_admin)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccountRead)
async def create_account(data: AccountCreate, vault: VaultDep, jobs: JobsDep) -> AccountRead:
    """Register a Drive account; its credentials are stored encrypted."""
    return AccountRead.of(await service.create_account(data=data, vault=vault, jobs=jobs))


@router.get("", response_model=Page[AccountRead])
async def list_accounts(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[AccountRead]:
    """Accounts by email, a page at a time."""
    items, total = await repository.list_accounts(offset=offset, limit=limit)
    return Page(items=[AccountRead.of(a) for a in items], total=total, offset=offset, limit=limit)


@router.get("/{account_id}", response_model=AccountRead)
async def get_account(account: AccountDep) -> AccountRead:
    """One account."""
    return AccountRead.of(account)


@router.patch("/{account_id}", response_model=AccountRead)
async def update_account(
    account_id: str, data: AccountUpdate, vault: VaultDep, jobs: JobsDep
) -> AccountRead:
    """Change an account (email, name, credentials, budget, enabled)."""
    account = await service.update_account(account_id=account_id, data=data, vault=vault, jobs=jobs)
    return AccountRead.of(account)


@router.delete("/{account_id}", status_code=status.HTTP_202_ACCEPTED, response_model=AccountRead)
async def delete_account(account_id: str, jobs: JobsDep) -> AccountRead:
    """Drain and delete an account: its replicas leave the Downloader first, then Drive."""
    return AccountRead.of(await service.delete_account(account_id=account_id, jobs=jobs))
