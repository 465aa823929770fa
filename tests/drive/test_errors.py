"""Each Drive error reason maps to the typed error that tells the caller what to do."""

from __future__ import annotations

import http.client
import json

import httplib2
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from services.drive.errors import (
    AuthError,
    BadRequest,
    DriveError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    QuotaKind,
    RateLimited,
    Transient,
    classify,
)

pytestmark = pytest.mark.unit


def http_error(status: int, reason: str | None, message: str = "m") -> HttpError:
    if reason is None:
        content = b"<html>Bad Gateway</html>"
    else:
        errors = [{"domain": "usageLimits", "reason": reason, "message": message}]
        content = json.dumps(
            {"error": {"code": status, "message": message, "errors": errors}}
        ).encode()
    return HttpError(httplib2.Response({"status": status}), content, uri="https://x/files")


@pytest.mark.parametrize(
    ("status", "reason", "message", "expected", "quota"),
    [
        (403, "userRateLimitExceeded", "User Rate Limit Exceeded", RateLimited, None),
        (403, "rateLimitExceeded", "Rate Limit Exceeded", RateLimited, None),
        (429, "rateLimitExceeded", "Rate Limit Exceeded", RateLimited, None),
        (403, "sharingRateLimitExceeded", "Rate limit exceeded", RateLimited, None),
        (403, "userRateLimitExceeded", "User rate limit exceeded.", QuotaExceeded, "upload"),
        (403, "downloadQuotaExceeded", "The download quota", QuotaExceeded, "download"),
        (403, "storageQuotaExceeded", "storage", QuotaExceeded, "storage"),
        (403, "quotaExceeded", "storage", QuotaExceeded, "storage"),
        (403, "dailyLimitExceeded", "Daily Limit Exceeded", QuotaExceeded, "project"),
        (401, "authError", "Invalid Credentials", AuthError, None),
        (404, "notFound", "File not found: x.", NotFound, None),
        (500, "backendError", "Backend Error", Transient, None),
        (502, None, "", Transient, None),
        (503, "backendError", "unavailable", Transient, None),
        (403, "insufficientFilePermissions", "no", PermissionDenied, None),
        (400, "badRequest", "bad", BadRequest, None),
    ],
)
def test_http_errors_are_typed(
    status: int, reason: str | None, message: str, expected: type[DriveError], quota: str | None
) -> None:
    error = classify(http_error(status, reason, message), operation="get")
    assert type(error) is expected
    assert error.status == status
    assert error.reason == reason
    assert error.retryable is (expected in (RateLimited, Transient))
    if quota is not None:
        assert isinstance(error, QuotaExceeded)
        assert error.quota is QuotaKind(quota)
    assert str(error).startswith("get: HTTP")


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        BrokenPipeError(32, "Broken pipe"),
        TimeoutError("timed out"),
        http.client.IncompleteRead(b"abc", 10),
        http.client.RemoteDisconnected("closed"),
        httplib2.ServerNotFoundError("Unable to find the server at www.googleapis.com"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_transport_failures_are_transient(exc: BaseException) -> None:
    error = classify(exc, operation="upload")
    assert isinstance(error, Transient)
    assert error.retryable


def test_invalid_grant_is_an_auth_error_naming_only_the_code() -> None:
    exc = RefreshError(
        "invalid_grant: Token has been expired or revoked.",
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    error = classify(exc, operation="about")
    assert isinstance(error, AuthError)
    assert error.reason == "invalid_grant"
    assert str(error) == "about: token refresh failed: invalid_grant"


def test_retryable_refresh_failure_is_transient() -> None:
    exc = RefreshError("internal_failure: try later", {"error": "internal_failure"}, retryable=True)
    assert isinstance(classify(exc, operation="about"), Transient)


def test_unrelated_exceptions_are_left_alone() -> None:
    assert classify(ValueError("bug"), operation="get") is None
    assert classify(KeyError("id"), operation="get") is None
    assert classify(FileNotFoundError(2, "No such file"), operation="upload") is None


def test_network_socket_errors_are_transient() -> None:
    error = classify(OSError(113, "No route to host"), operation="get")
    assert isinstance(error, Transient)
    assert "EHOSTUNREACH" in str(error)
