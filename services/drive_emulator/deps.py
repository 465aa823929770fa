"""FastAPI dependencies of the emulator: the runtime, the calling account, the admin check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.drive_emulator import auth, errors
from services.drive_emulator.faults import DropConnection
from services.drive_emulator.runtime import Runtime
from services.drive_emulator.store import Account
from services.shared.security import require_token


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_caller(request: Request, runtime: RuntimeDep) -> Account | None:
    """The account of the bearer token, None for an anonymous request; 401 for a bad token."""
    return await auth.authenticate(
        runtime.store, runtime.clock, request.headers.get("authorization")
    )


CallerDep = Annotated[Account | None, Depends(get_caller)]


async def get_account(request: Request, runtime: RuntimeDep, caller: CallerDep) -> Account:
    """The authenticated account, after faults and rate limiting (routes without a body)."""
    if caller is None:
        raise errors.login_required()
    if await runtime.guard(request, caller) is not None:
        raise DropConnection
    return caller


AccountDep = Annotated[Account, Depends(get_account)]

require_admin = require_token(
    lambda request: request.app.state.runtime.settings.admin_token, "drive-emulator-admin"
)
