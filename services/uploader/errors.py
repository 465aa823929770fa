"""Domain errors of the Uploader, each with the HTTP status the API answers it with.

Services raise these; one exception handler in ``main.py`` turns them into JSON bodies
(``{"detail": ...}``), so routers never build error responses themselves. Messages are meant
for the client: they name the problem and never quote credentials.
"""

from __future__ import annotations

from typing import Any


class UploaderError(Exception):
    """Base class: ``status`` is the HTTP answer, ``extra`` joins the JSON body."""

    status = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(UploaderError):
    status = 404


class Conflict(UploaderError):
    status = 409


class Invalid(UploaderError):
    status = 422


class PayloadTooLarge(UploaderError):
    status = 413


class Unavailable(UploaderError):
    """A dependency (Drive) did not answer usably; the same request may work later."""

    status = 503
