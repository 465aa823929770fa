"""Request limits every service enforces itself: header size, JSON body size, slow bodies.

uvicorn (with httptools) accepts headers of any size and waits for a request body forever, and
FastAPI reads a JSON body whole into memory: without these limits one client can hold a
connection and megabytes of memory for as long as it likes. Each service inherits
:class:`RequestLimitSettings` (so the variables carry its own prefix, e.g.
``FILESERVER_DOWNLOADER_MAX_JSON_BYTES``) and adds :class:`RequestLimitsMiddleware`.

Uploads are not JSON and keep their own limit (``MAX_UPLOAD_BYTES``); they are subject to the
idle timeout like any body. A client slow to send its *headers* is out of reach here (uvicorn
calls the application only once they are complete): that one is for the proxy in front.
"""

from __future__ import annotations

import asyncio
import json

from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB


class RequestLimitSettings(BaseSettings):
    """The limits, as fields of each service's settings (the service's prefix applies)."""

    max_header_bytes: int = Field(
        default=16 * KIB,
        ge=KIB,
        description="request line and headers together; more is 431",
    )
    max_json_bytes: int = Field(
        default=8 * MIB, ge=KIB, description="a JSON request body; more is 413"
    )
    body_idle_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="longest wait for the next piece of a request body; longer is 408",
    )


class _Refused(HTTPException):
    """Raised from ``receive``: an HTTPException, so that FastAPI's body parsing lets it through
    and the app answers it like any other error (``{"detail": ...}``). The rest of the body is
    never read, so the connection cannot serve another request: the answer closes it."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail, headers={"Connection": "close"})


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimitsMiddleware:
    """Pure ASGI: refuses oversized headers (431) and JSON bodies (413), and bodies that stall
    (408). A request without a body costs one pass over its headers."""

    def __init__(self, app: ASGIApp, limits: RequestLimitSettings) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        length: int | None = None
        has_body = json_body = False
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4  # ": " and CRLF, as on the wire
            if name == b"content-length":
                has_body = value != b"0"
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                media = value.split(b";", 1)[0].strip().lower()
                json_body = media == b"application/json" or media.endswith(b"+json")
        if size > limits.max_header_bytes:
            await _answer(
                send,
                431,
                f"the request line and headers are {size} bytes; "
                f"the limit is {limits.max_header_bytes}",
            )
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        cap = limits.max_json_bytes if json_body else None
        if cap is not None and length is not None and length > cap:
            await _answer(send, 413, f"the JSON body is {length} bytes; the limit is {cap}")
            return
        await self._with_body(scope, receive, send, cap)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send, cap: int | None) -> None:
        idle = self.limits.body_idle_timeout_seconds
        received = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: what is left to wait for is the disconnect
                return await receive()
            try:
                async with asyncio.timeout(idle):
                    message = await receive()
            except TimeoutError:
                raise _Refused(
                    408, f"no part of the request body arrived for {idle:g} s; send it faster"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if cap is not None and received > cap:
                    raise _Refused(413, f"the JSON body is over the limit of {cap} bytes")
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _Refused as refused:
            if started:  # too late to answer: drop the connection
                raise
            await _answer(send, refused.status_code, refused.detail)
