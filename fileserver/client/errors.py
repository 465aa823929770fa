"""Exit codes and errors of the client: a script can rely on the code, a person on the message.

One HTTP or transport failure becomes one ``ClientError`` with a one-line message that names
what was attempted, and the exit code its kind maps to (documented in docs/quickstart.md).
"""

from __future__ import annotations

from enum import IntEnum

import httpx


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the request failed: service unreachable, server error, pool exhausted
    USAGE = 2  # bad arguments or a request the service refused as invalid (400, 413, 416, 422)
    NOT_FOUND = 3  # no such file, account or upload session (404)
    UNAUTHORIZED = 4  # missing or wrong credential (401, 403)
    NOT_READY = 5  # not in a state that allows it (409), or still not ready after --timeout
    CORRUPT = 6  # bytes do not match their sha256


_BY_STATUS = {
    400: ExitCode.USAGE,
    401: ExitCode.UNAUTHORIZED,
    403: ExitCode.UNAUTHORIZED,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.NOT_READY,
    413: ExitCode.USAGE,
    416: ExitCode.USAGE,
    422: ExitCode.USAGE,
}


class ClientError(Exception):
    """A failure the CLI reports as one line and exits with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def response_error(response: httpx.Response, what: str) -> ClientError:
    """The error for an answer of 400 or more to the request that did ``what``."""
    detail = _detail(response)
    message = f"{what}: HTTP {response.status_code}" + (f": {detail}" if detail else "")
    if response.status_code == 503 and "retry-after" in response.headers:
        message += f" (retry after {response.headers['retry-after']} s)"
    return ClientError(message, _BY_STATUS.get(response.status_code, ExitCode.FAILED))


def transport_error(exc: httpx.TransportError, what: str, where: str) -> ClientError:
    """The error for a request to ``where`` that got no complete answer."""
    reason = str(exc) or type(exc).__name__
    return ClientError(f"{what}: no answer from {where} ({reason})")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:300] if response.text.strip() else ""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors: "field: message; …"
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg', '')}"
            for d in detail
            if isinstance(d, dict)
        )
    if isinstance(detail, dict):  # Drive-style {"error": {"message": …}}
        return str(detail.get("error", {}).get("message", detail))
    return str(detail)
