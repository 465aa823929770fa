"""FastAPI dependencies of the Downloader as ``Annotated`` aliases, so routes stay one-liners."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.downloader.config import Settings
from services.downloader.runtime import Runtime
from services.shared.security import require_token

# Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
# dependencies in a thread pool, a thread hop per request on the hottest path.


async def get_runtime(request: Request) -> Runtime:
    """The process's live parts (made by the app's lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return _settings(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        yield session


async def get_today(request: Request) -> date:
    """The current budget day."""
    runtime: Runtime = request.app.state.runtime
    return runtime.today()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TodayDep = Annotated[date, Depends(get_today)]

require_admin = require_token(lambda request: _settings(request).admin_token, "admin")
require_internal = require_token(lambda request: _settings(request).internal_token, "internal")
