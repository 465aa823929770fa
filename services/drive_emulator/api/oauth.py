"""The OAuth 2.0 token endpoint the emulator's credentials point at (``token_uri``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.drive_emulator import auth
from services.drive_emulator.deps import RuntimeDep

router = APIRouter(tags=["oauth"])


@router.post("/token")
async def token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Exchange a refresh token or a signed JWT assertion for an access token."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        answer = await auth.grant(
            runtime.store, runtime.clock, values, runtime.settings.access_token_ttl_seconds
        )
    except auth.OAuthError as exc:
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description}, status_code=exc.status
        )
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
