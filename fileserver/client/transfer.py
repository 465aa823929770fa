"""Moving bytes: streamed, resumable and batch uploads; single and parallel ranged downloads.

Memory stays constant whatever the size: uploads stream from the file (or a generator),
downloads are written to disk as they arrive. Every transfer hashes what it moved and checks the
sha256 the Uploader recorded, so a corrupted byte is an error, never a silent success.
A parallel download asks the Downloader for one URL per byte range: the round robin spreads
the ranges (and their charge, each only its range) over the accounts holding the file.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import IO, cast

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from fileserver.client.api import FileserverClient
from fileserver.client.errors import ClientError, ExitCode
from services.downloader.schemas import DownloadTicket
from services.uploader.schemas import FileRead, UploadSessionRead

CHUNK = 1024 * 1024
RANGE_TARGET = 8 * CHUNK  # bytes per PUT of a resumable upload (rounded to the session's unit)
Advance = Callable[[int], None]


def _ignore(_: int) -> None:
    """Progress callback of a transfer nobody watches."""


def guess_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def read_chunks(fh: IO[bytes], digest: hashlib._Hash, advance: Advance) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
        advance(len(chunk))
        yield chunk


def check_digest(file: FileRead, local: str, where: str) -> None:
    """CORRUPT unless the Uploader's sha256 of ``file`` is ``local``."""
    if file.sha256 is not None and file.sha256 != local:
        raise ClientError(
            f"{file.name}: sha256 of {where} is {local}, the Uploader recorded {file.sha256}",
            ExitCode.CORRUPT,
        )


def upload_stream(
    client: FileserverClient,
    chunks: Iterable[bytes],
    *,
    name: str,
    size: int,
    content_type: str,
    advance: Advance = _ignore,
) -> FileRead:
    """Upload bytes from any iterable (a file, a generator) and check what arrived."""
    digest = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in chunks:
            digest.update(chunk)
            advance(len(chunk))
            yield chunk

    file = client.upload(hashed(), name=name, size=size, content_type=content_type)
    check_digest(file, digest.hexdigest(), "the bytes sent")
    return file


def upload_path(
    client: FileserverClient,
    path: Path,
    *,
    name: str | None = None,
    content_type: str | None = None,
    advance: Advance = _ignore,
) -> FileRead:
    with path.open("rb") as fh:
        return upload_stream(
            client,
            iter(lambda: fh.read(CHUNK), b""),
            name=name or path.name,
            size=path.stat().st_size,
            content_type=content_type or guess_type(path),
            advance=advance,
        )


def open_session(
    client: FileserverClient, path: Path, *, name: str | None, content_type: str | None
) -> UploadSessionRead:
    """A resumable session for ``path``; its sha256 makes the Uploader refuse other bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for _ in read_chunks(fh, digest, _ignore):
            pass
    return client.create_session(
        name=name or path.name,
        size=path.stat().st_size,
        content_type=content_type or guess_type(path),
        sha256=digest.hexdigest(),
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.code is ExitCode.FAILED


def upload_resumable(
    client: FileserverClient,
    path: Path,
    session: UploadSessionRead,
    *,
    advance: Advance = _ignore,
    attempts: int = 5,
) -> FileRead:
    """Send ``path`` from the session's offset on; after a failure ask the session where to
    continue (up to ``attempts`` tries per range), then finish it."""
    if path.stat().st_size != session.size:
        raise ClientError(
            f"{path} has {path.stat().st_size} bytes; session {session.id} expects {session.size}",
            ExitCode.USAGE,
        )
    step = max(session.chunk_bytes, RANGE_TARGET // session.chunk_bytes * session.chunk_bytes)
    advance(session.offset)
    with path.open("rb") as fh:
        while session.offset < session.size:
            done = session.offset
            for attempt in Retrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential(multiplier=0.5, max=10),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        session = client.get_session(session.id)
                    fh.seek(session.offset)
                    session = client.put_range(session, session.offset, fh.read(step))
            advance(session.offset - done)
    return client.finish_session(session.id)


class _CountingReader(io.BufferedIOBase):
    """A file whose reads advance a progress bar (httpx streams multipart parts by reading)."""

    def __init__(self, fh: IO[bytes], advance: Advance) -> None:
        self._fh = fh
        self._advance = advance

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._fh.read(-1 if size is None else size)
        self._advance(len(data))
        return data

    def fileno(self) -> int:  # lets httpx learn the part's length without reading it
        return self._fh.fileno()


def upload_batch(
    client: FileserverClient, paths: list[Path], *, advance: Advance = _ignore
) -> list[FileRead]:
    """Upload every path in one request: all files are registered, or none is."""
    with ExitStack() as stack:
        parts = [
            (
                p.name,
                cast(IO[bytes], _CountingReader(stack.enter_context(p.open("rb")), advance)),
                guess_type(p),
            )
            for p in paths
        ]
        files = client.upload_batch(parts)
    digests = {p.name: _sha256_of(p) for p in paths}
    for file in files:
        check_digest(file, digests[file.name], f"local {file.name}")
    return files


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for _ in read_chunks(fh, digest, _ignore):
            pass
    return digest.hexdigest()


def split(size: int, parts: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of at most ``parts`` contiguous ranges covering ``size`` bytes."""
    parts = max(1, min(parts, size))
    base, extra = divmod(size, parts)
    ranges, offset = [], 0
    for i in range(parts):
        length = base + (1 if i < extra else 0)
        ranges.append((offset, length))
        offset += length
    return ranges


LEARN_SECONDS = 30.0
"""How long a download waits for the Downloader to learn a file the Uploader has uploaded."""


def download(
    client: FileserverClient,
    file: FileRead,
    target: Path,
    *,
    parallel: int = 1,
    advance: Advance = _ignore,
) -> list[DownloadTicket]:
    """Download ``file`` to ``target`` through ``parallel`` ranged URLs, verify its sha256,
    and return the tickets (which account served which range)."""
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        out.truncate(file.size)
    fd = os.open(partial, os.O_WRONLY)
    try:
        ranges = split(file.size, parallel)

        def fetch(span: tuple[int, int]) -> DownloadTicket:
            offset, length = span
            ranged = len(ranges) > 1
            # The Uploader says the file is uploaded; the Downloader may learn it a moment later.
            learn = LEARN_SECONDS if file.status == "uploaded" else 0.0
            ticket = (
                client.ticket(file.id, offset=offset, length=length, wait=learn)
                if ranged
                else client.ticket(file.id, wait=learn)
            )
            position = offset
            with client.fetch(ticket) as response:
                for chunk in response.iter_bytes(CHUNK):
                    os.pwrite(fd, chunk, position)
                    position += len(chunk)
                    advance(len(chunk))
            if position != offset + length:
                raise ClientError(
                    f"{file.name}: got {position - offset} of {length} bytes from offset {offset}"
                )
            return ticket

        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            tickets = list(pool.map(fetch, ranges))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    local = _sha256_of(partial)
    if file.sha256 is not None and local != file.sha256:
        partial.unlink()
    check_digest(file, local, "the downloaded bytes")
    partial.replace(target)
    return tickets
