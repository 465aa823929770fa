"""Typed Drive errors: what the caller should do, decided once, from Drive's reason codes.

Drive answers every failure with ``{"error": {"code", "message", "errors": [{"reason", ...}]}}``.
Callers do not want to parse that: they want to know whether to wait and retry on the same
account (:class:`RateLimited`, :class:`Transient`), move to another account
(:class:`QuotaExceeded`), stop using the account (:class:`AuthError`) or give up on the file
(:class:`NotFound`, :class:`PermissionDenied`, :class:`BadRequest`). :func:`classify` maps a
library or transport exception to one of these; nothing else in the project reads HTTP codes.

Messages carry the operation, status, reason and Drive's message, never request headers or
credential material: exceptions end up in logs and API answers.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
from enum import StrEnum
from typing import Any

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import HttpError, ResumableUploadError

# Drive's message for the 750 GB/day upload cap: it shares the reason userRateLimitExceeded with
# ordinary rate limiting, and only this exact text tells them apart (rclone relies on it too).
UPLOAD_LIMIT_MESSAGE = "User rate limit exceeded."

RATE_LIMIT_REASONS = frozenset(
    {"userRateLimitExceeded", "rateLimitExceeded", "sharingRateLimitExceeded"}
)


class QuotaKind(StrEnum):
    """Which budget ran out: the caller picks another account (or file replica) for it."""

    DOWNLOAD = "download"
    UPLOAD = "upload"
    STORAGE = "storage"
    PROJECT = "project"


QUOTA_REASONS: dict[str, QuotaKind] = {
    "downloadQuotaExceeded": QuotaKind.DOWNLOAD,
    "storageQuotaExceeded": QuotaKind.STORAGE,
    "quotaExceeded": QuotaKind.STORAGE,
    "teamDriveFileLimitExceeded": QuotaKind.STORAGE,
    "dailyLimitExceeded": QuotaKind.PROJECT,
}


class DriveError(Exception):
    """Any failure of a Drive operation; ``retryable`` says whether waiting may help."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.reason = reason
        prefix = f"{operation}: " if operation else ""
        super().__init__(prefix + message)


class RateLimited(DriveError):
    """Too many requests for now: retried on the same account with exponential backoff."""

    retryable = True


class Transient(DriveError):
    """A 5xx answer, a timeout or a dropped connection: retried."""

    retryable = True


class QuotaExceeded(DriveError):
    """A daily or storage budget is spent: never retried on this account."""

    def __init__(self, message: str, *, quota: QuotaKind, **kwargs: Any) -> None:
        self.quota = quota
        super().__init__(message, **kwargs)


class AuthError(DriveError):
    """The credentials were refused (401, revoked or invalid grant): the account is unhealthy."""


class NotFound(DriveError):
    """The file (or upload session) does not exist or is not visible to this account."""


class PermissionDenied(DriveError):
    """The account may see the file but not do this to it."""


class BadRequest(DriveError):
    """Drive refused the request itself; retrying the same request cannot help."""


class UploadSourceError(DriveError):
    """The byte source of an upload ended early, ran long, or cannot rewind to Drive's offset."""


def _error_details(content: bytes | str | None) -> tuple[str | None, str]:
    """Drive's first ``reason`` and its message, from an error body (JSON or not)."""
    if not content:
        return None, ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    try:
        body = json.loads(text)
    except ValueError:
        return None, text.strip()[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, text.strip()[:200]
    errors = error.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    reason = first.get("reason") or error.get("status")
    message = first.get("message") or error.get("message") or ""
    return (str(reason) if reason else None), str(message)


def from_response(status: int, content: bytes | str | None, *, operation: str) -> DriveError:
    """The typed error for a non-success HTTP answer of Drive."""
    reason, message = _error_details(content)
    detail = f"HTTP {status} {reason or ''}: {message}".replace("  ", " ").rstrip(": ")
    kwargs: dict[str, Any] = {"operation": operation, "status": status, "reason": reason}
    if reason == "userRateLimitExceeded" and message == UPLOAD_LIMIT_MESSAGE:
        return QuotaExceeded(detail, quota=QuotaKind.UPLOAD, **kwargs)
    if reason in QUOTA_REASONS:
        return QuotaExceeded(detail, quota=QUOTA_REASONS[reason], **kwargs)
    if status == 429 or reason in RATE_LIMIT_REASONS:
        return RateLimited(detail, **kwargs)
    if status == 401:
        return AuthError(detail, **kwargs)
    if status == 404:
        return NotFound(detail, **kwargs)
    if status >= 500 or status == 408:
        return Transient(detail, **kwargs)
    if status == 403:
        return PermissionDenied(detail, **kwargs)
    return BadRequest(detail, **kwargs)


# Socket errors that say "the network failed", as opposed to a bug or a local file problem.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
    }
)
_CONNECTION_ERRORS = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    ssl.SSLError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
)


def classify(exc: BaseException, *, operation: str) -> DriveError | None:
    """The typed error for ``exc``, or None when it is not a Drive or transport failure."""
    if isinstance(exc, DriveError):
        return exc
    if isinstance(exc, HttpError | ResumableUploadError):
        return from_response(int(exc.resp.status), exc.content, operation=operation)
    if isinstance(exc, auth_exceptions.RefreshError):
        # RefreshError's text is the token endpoint's answer; keep only its error code, which
        # is all the caller needs and cannot contain a secret.
        code = _refresh_error_code(exc)
        if getattr(exc, "retryable", False):
            return Transient(f"token refresh failed ({code}), retryable", operation=operation)
        return AuthError(f"token refresh failed: {code}", operation=operation, reason=code)
    if isinstance(exc, auth_exceptions.TransportError):
        return Transient(f"token endpoint unreachable: {type(exc).__name__}", operation=operation)
    if isinstance(exc, httplib2.ServerNotFoundError):
        return Transient(f"server not found: {exc}", operation=operation)
    if isinstance(exc, _CONNECTION_ERRORS):
        return Transient(f"connection failed: {type(exc).__name__}", operation=operation)
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return Transient(f"network failure: {errno.errorcode[exc.errno]}", operation=operation)
    return None


def _refresh_error_code(exc: auth_exceptions.RefreshError) -> str:
    for arg in exc.args[1:]:
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            return str(arg["error"])
    first = str(exc.args[0]) if exc.args else ""
    code = first.split(":", 1)[0].strip()
    return code if code.replace("_", "").isalnum() and len(code) < 40 else "refresh_failed"
