"""Credentials for the services' APIs: bearer tokens compared in constant time.

Every service has an admin token (mutating and report endpoints) and an internal token
(service-to-service endpoints); both come from settings, and a service refuses to start with
an empty or placeholder token unless it is explicitly in development mode.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "admin", "password"})


def check_secret(name: str, value: str, *, dev_mode: bool) -> str:
    """Validate a configured token: long enough and not a placeholder, outside dev mode."""
    if not dev_mode and (value.lower() in PLACEHOLDERS or len(value) < 16):
        raise ValueError(
            f"{name} must be set to a random value of at least 16 characters "
            f"(e.g. {secrets.token_urlsafe(24)!r}); refusing to start with a default secret"
        )
    return value


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or of an ``X-API-Key`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.headers.get("x-api-key")


def require_token(get_expected: Callable[[Request], str], realm: str) -> Callable[..., None]:
    """A FastAPI dependency that answers 401 unless the request carries the expected token.

    It declares an HTTP bearer scheme named after the realm, so the OpenAPI spec marks every
    route that needs the credential (``X-API-Key`` is accepted too, undeclared).
    """
    name = "".join(word.capitalize() for word in realm.split()) + "Token"  # "AdminToken"
    scheme = HTTPBearer(auto_error=False, scheme_name=name)

    # A default, not Annotated[]: an annotation naming `scheme` would not resolve (PEP 563).
    def dependency(
        request: Request,
        _: HTTPAuthorizationCredentials | None = Depends(scheme),  # noqa: B008
    ) -> None:
        given = bearer_token(request)
        expected = get_expected(request)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail=f"missing or wrong {realm} credential: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
            )

    return dependency
