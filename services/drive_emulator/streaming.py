"""Sending file bytes: ``Range`` requests, and metering of what actually reached the client.

A download's bytes are reserved against the owner's budget before the answer starts (see
:mod:`services.drive_emulator.quota`); :class:`MeteredFileResponse` counts what it hands to the
server, notices a client that went away, and settles the reservation with that count. A ``drop``
fault ends the answer after its byte budget without completing it, so the server closes the
connection mid-transfer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.drive_emulator import errors, metrics

PIECE = 256 * 1024


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a single-range ``Range`` header asks for; None: everything.

    Multi-range and malformed headers are ignored, as HTTP allows; an unsatisfiable range is
    answered 416 with ``Content-Range: bytes */size``.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise errors.range_not_satisfiable(size)
            return max(0, size - suffix), size - 1
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        raise errors.range_not_satisfiable(size)
    return start, end


class MeteredFileResponse(Response):
    """Bytes ``start..end`` of a file, counted as they go out."""

    def __init__(
        self,
        path: Path,
        *,
        start: int,
        end: int,
        status_code: int,
        headers: dict[str, str],
        account_id: str,
        on_done: Callable[[int], Awaitable[None]],
        drop_after: int | None = None,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers)
        self.path = path
        self.start = start
        self.length = end - start + 1
        self.account_id = account_id
        self.on_done = on_done
        self.drop_after = drop_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        sent = 0
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async with await anyio.open_file(self.path, "rb") as file:
                await file.seek(self.start)
                while sent < self.length and not gone.is_set():
                    size = min(PIECE, self.length - sent)
                    if self.drop_after is not None:
                        size = min(size, self.drop_after - sent)
                        if size <= 0:
                            return  # abandon the answer: the server closes the connection
                    data = await file.read(size)
                    if not data:
                        return  # the file shrank under us: end the answer short
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    sent += len(data)
                    metrics.BYTES_SERVED.labels(self.account_id).inc(len(data))
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            await self.on_done(sent)
