"""Drive's error answers, with the status, domain, reason and message Google really sends.

A client is only as good as its error handling, and that is tested against these bodies:
``{"error": {"code", "message", "errors": [{"domain", "reason", "message", ...}]}}``. Note the
two faces of ``userRateLimitExceeded``: ordinary throttling says "User Rate Limit Exceeded",
the 750 GB/day upload cap says "User rate limit exceeded." (only the text differs).

Fault injection names its errors by the keys of :data:`FAULT_ERRORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from services.drive_emulator import metrics


class DriveApiError(Exception):
    """An error answer of the Drive API."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location_type: str | None = None,
        location: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location_type = location_type
        self.location = location
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location_type:
            detail["locationType"] = self.location_type
            detail["location"] = self.location
        return {"error": {"code": self.status, "message": self.message, "errors": [detail]}}

    def response(self) -> JSONResponse:
        metrics.ERRORS.labels(self.reason).inc()
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def not_found(file_id: str) -> DriveApiError:
    return DriveApiError(
        404,
        "notFound",
        f"File not found: {file_id}.",
        location_type="parameter",
        location="fileId",
    )


def upload_session_not_found() -> DriveApiError:
    return DriveApiError(404, "notFound", "Upload session not found or expired.")


def login_required() -> DriveApiError:
    return DriveApiError(
        401,
        "required",
        "Login Required.",
        location_type="header",
        location="Authorization",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def auth_error() -> DriveApiError:
    return DriveApiError(
        401,
        "authError",
        "Invalid Credentials",
        location_type="header",
        location="Authorization",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def insufficient_permissions(file_id: str) -> DriveApiError:
    return DriveApiError(
        403,
        "insufficientFilePermissions",
        f"The user does not have sufficient permissions for file {file_id}.",
    )


def download_quota() -> DriveApiError:
    return DriveApiError(
        403,
        "downloadQuotaExceeded",
        "The download quota for this file has been exceeded.",
        domain="usageLimits",
    )


def storage_quota() -> DriveApiError:
    return DriveApiError(
        403,
        "storageQuotaExceeded",
        "The user's Drive storage quota has been exceeded.",
        domain="usageLimits",
    )


def quota_exceeded() -> DriveApiError:
    return DriveApiError(
        403,
        "quotaExceeded",
        "The user has exceeded their Drive storage quota",
        domain="usageLimits",
    )


def upload_limit() -> DriveApiError:
    return DriveApiError(
        403, "userRateLimitExceeded", "User rate limit exceeded.", domain="usageLimits"
    )


def user_rate_limit() -> DriveApiError:
    return DriveApiError(
        403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"
    )


def rate_limit() -> DriveApiError:
    return DriveApiError(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")


def too_many_requests() -> DriveApiError:
    return DriveApiError(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")


def backend_error() -> DriveApiError:
    return DriveApiError(500, "backendError", "Backend Error")


def service_unavailable() -> DriveApiError:
    return DriveApiError(503, "backendError", "The service is currently unavailable.")


def bad_request(message: str, *, location: str | None = None) -> DriveApiError:
    return DriveApiError(
        400,
        "badRequest" if location is None else "invalid",
        message,
        location_type="parameter" if location else None,
        location=location,
    )


def required_parameter(name: str) -> DriveApiError:
    return DriveApiError(
        400,
        "required",
        f"The '{name}' parameter is required for this operation.",
        location_type="parameter",
        location=name,
    )


def range_not_satisfiable(size: int) -> DriveApiError:
    return DriveApiError(
        416,
        "requestedRangeNotSatisfiable",
        "Request range not satisfiable",
        headers={"Content-Range": f"bytes */{size}"},
    )


FAULT_ERRORS: dict[str, Callable[[], DriveApiError]] = {
    "userRateLimitExceeded": user_rate_limit,
    "rateLimitExceeded": rate_limit,
    "tooManyRequests": too_many_requests,
    "backendError": backend_error,
    "serviceUnavailable": service_unavailable,
    "downloadQuotaExceeded": download_quota,
    "storageQuotaExceeded": storage_quota,
    "quotaExceeded": quota_exceeded,
    "uploadLimitExceeded": upload_limit,
    "authError": auth_error,
    "notFound": lambda: not_found("(injected)"),
}
