"""Domain errors of the Downloader, each with the HTTP answer it becomes.

Service functions raise these; one exception handler in ``main`` turns them into JSON bodies
``{"detail": ...}`` with the status and headers they carry, so routes stay free of HTTP logic.
"""

from __future__ import annotations

from starlette.responses import JSONResponse


class DownloaderError(Exception):
    """Base: a refusal with a status code, a message for the client, optional headers."""

    status_code = 400

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class NotFound(DownloaderError):
    """No such file or account (or it was deleted)."""

    status_code = 404


class NotReady(DownloaderError):
    """The file exists but is not ``uploaded`` yet (or failed)."""

    status_code = 409


class BadRange(DownloaderError):
    """A malformed or contradictory range request."""

    status_code = 400


class RangeNotSatisfiable(DownloaderError):
    """The requested bytes lie outside the file."""

    status_code = 416


class Unavailable(DownloaderError):
    """No account can serve the file now; ``Retry-After`` tells when to ask again."""

    status_code = 503


def error_response(exc: DownloaderError) -> JSONResponse:
    """The answer a domain error becomes: ``{"detail": ...}``, its status, its headers."""
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
