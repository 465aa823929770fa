"""FastAPI dependencies of the Uploader as ``Annotated`` aliases, so routes stay one-liners.

The runtime objects (settings, staging bucket, job queue, vault, Drive clients) are made once
by the app's lifespan and kept on ``app.state``; validation dependencies turn unknown ids into
404s before a route body runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.shared.security import require_token
from services.uploader import service
from services.uploader.config import Settings
from services.uploader.drives import DriveClients
from services.uploader.jobs import Jobs
from services.uploader.models import Account, StoredFile
from services.uploader.staging import Staging
from services.uploader.vault import Vault


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _staging(request: Request) -> Staging:
    staging: Staging = request.app.state.staging
    return staging


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _drives(request: Request) -> DriveClients:
    drives: DriveClients = request.app.state.drives
    return drives


SettingsDep = Annotated[Settings, Depends(_settings)]
StagingDep = Annotated[Staging, Depends(_staging)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
VaultDep = Annotated[Vault, Depends(_vault)]
DrivesDep = Annotated[DriveClients, Depends(_drives)]

require_admin = require_token(
    lambda request: _settings(request).admin_token.get_secret_value(), "uploader admin"
)


async def valid_account(account_id: str) -> Account:
    return await service.get_account(account_id=account_id)


async def valid_file(file_id: str) -> StoredFile:
    return await service.get_file(file_id=file_id)


AccountDep = Annotated[Account, Depends(valid_account)]
FileDep = Annotated[StoredFile, Depends(valid_file)]
