"""A resumable-upload media source fed by an async byte iterator, in constant memory.

googleapiclient uploads synchronously: from a worker thread it asks the media object for the
bytes ``[begin, begin + chunksize)``, where ``begin`` is the offset Drive last acknowledged
(after an interruption, the offset Drive reports for the session). The bytes come from an async
iterator living on the event loop, so :meth:`AsyncStreamUpload.getbytes` hands the loop a
coroutine that pulls just enough of the iterator and waits for it; the loop itself never blocks.

Only the source's pieces Drive has not acknowledged are kept (one chunk plus at most a piece on
each side), and each chunk is joined from them once: memory stays near two chunks whatever the
file's size. Drive never asks for an offset below one it acknowledged, so resuming mid-chunk
needs nothing older; an offset the held pieces cannot serve is reported as
:class:`UploadSourceError` rather than silently corrupting the file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from collections.abc import AsyncIterator

from googleapiclient.http import MediaUpload

from services.drive.errors import UploadSourceError


class AsyncStreamUpload(MediaUpload):  # type: ignore[misc]
    """The media of one resumable upload of exactly ``size`` bytes from ``source``."""

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        size: int,
        mimetype: str,
        chunksize: int,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
    ) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self._source = aiter(source)
        self._size = size
        self._mimetype = mimetype
        self._chunksize = chunksize
        self._loop = loop
        self._timeout = timeout
        self._pieces: deque[bytes] = deque()  # source pieces Drive has not acknowledged
        self._start = 0  # stream offset of the first held piece
        self._held = 0  # bytes held in self._pieces
        self._exhausted = False
        self.offset = 0  # where the last request for bytes started: Drive's offset then

    def chunksize(self) -> int:
        return self._chunksize

    def mimetype(self) -> str:
        return self._mimetype

    def size(self) -> int:
        return self._size

    def resumable(self) -> bool:
        return True

    def has_stream(self) -> bool:
        return False

    def getbytes(self, begin: int, length: int) -> bytes:
        """Bytes ``[begin, begin + length)`` of the stream (fewer at its end)."""
        if _running_loop() is self._loop:
            raise RuntimeError("getbytes must run in a worker thread, never on the event loop")
        if begin < self._start:
            raise UploadSourceError(
                f"Drive asked to resume at byte {begin}, but bytes before {self._start} "
                "were acknowledged earlier and are gone",
                operation="upload",
            )
        self.offset = begin
        want = min(length, self._size - begin)
        future = asyncio.run_coroutine_threadsafe(self._chunk(begin, want), self._loop)
        try:
            data = future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise UploadSourceError(
                f"the upload's source produced no bytes for {self._timeout:.0f} s",
                operation="upload",
            ) from None
        return data

    async def _chunk(self, begin: int, want: int) -> bytes:
        """Pull the source up to ``begin + want``, forget what lies before ``begin``, and join.

        This runs on the event loop, so each chunk is allocated by one thread: glibc then
        reuses the previous chunk's memory instead of growing one heap per worker thread.
        """
        while self._start + self._held < begin + want:
            try:
                piece = await anext(self._source)
            except StopAsyncIteration:
                raise UploadSourceError(
                    f"the upload's source ended at byte {self._start + self._held} of {self._size}",
                    operation="upload",
                ) from None
            self._pieces.append(piece)
            self._held += len(piece)
        if self._start + self._held > self._size:
            raise UploadSourceError(
                f"the upload's source yields more than the declared {self._size} bytes",
                operation="upload",
            )
        if self._start + self._held == self._size and not self._exhausted:
            await self._expect_end()
        while self._pieces and self._start + len(self._pieces[0]) <= begin:
            dropped = self._pieces.popleft()
            self._start += len(dropped)
            self._held -= len(dropped)
        views: list[memoryview] = []
        offset, remaining = begin - self._start, want
        for piece in self._pieces:
            if remaining <= 0:
                break
            view = memoryview(piece)[offset : offset + remaining]
            views.append(view)
            remaining -= len(view)
            offset = 0
        return b"".join(views)

    async def _expect_end(self) -> None:
        """Check, before the last chunk goes out, that the source has nothing more."""
        async for piece in self._source:
            if piece:
                raise UploadSourceError(
                    f"the upload's source yields more than the declared {self._size} bytes",
                    operation="upload",
                )
        self._exhausted = True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
