"""All-or-nothing batch upload (seed 003): several files in one multipart body, all or none.

Parts stream into GridFS one after another while python-multipart parses the body, so memory
stays bounded whatever the sizes. Without multi-document transactions the commit point is one
insert: a :class:`~services.uploader.models.Batch` document listing every staged file. Before
it, a failure deletes what was staged and nothing is registered; after it, the files are
registered from it, and a crash halfway is rolled forward by the worker's sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import DuplicateKeyError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from services.uploader.config import Settings
from services.uploader.errors import Invalid, PayloadTooLarge
from services.uploader.jobs import Jobs
from services.uploader.metrics import BYTES_STAGED, FILES_STAGED
from services.uploader.models import Batch, BatchEntry, StoredFile, new_id
from services.uploader.schemas import (
    DEFAULT_CONTENT_TYPE,
    check_content_type,
    check_file_name,
)
from services.uploader.staging import ChunkWriter, Staged, Staging

log = logging.getLogger(__name__)


@dataclass
class _Part:
    """One file part of a multipart batch while it streams in."""

    index: int
    headers: dict[str, str] = field(default_factory=dict)
    writer: ChunkWriter | None = None
    staged: Staged | None = None


class _BatchReader:
    """Feeds python-multipart's streaming parser and replays its callbacks asynchronously.

    The parser's callbacks are synchronous, GridFS writes are not: callbacks only record what
    happened in the current piece of body, then :meth:`feed` acts on it, so at most one piece
    is held in memory.
    """

    def __init__(self, boundary: bytes) -> None:
        self.events: list[tuple[str, bytes]] = []
        self._field = b""
        self._value = b""
        self.parser = MultipartParser(boundary, self._callbacks(), max_header_count=16)

    def _callbacks(self) -> Any:
        def record(kind: str) -> Callable[..., None]:
            def callback(data: bytes | None = None, start: int = 0, end: int = 0) -> None:
                self.events.append((kind, b"" if data is None else bytes(data[start:end])))

            return callback

        return {
            "on_part_begin": record("begin"),
            "on_part_data": record("data"),
            "on_part_end": record("end"),
            "on_header_field": record("hfield"),
            "on_header_value": record("hvalue"),
            "on_header_end": record("hend"),
            "on_headers_finished": record("headers"),
        }

    def feed(self, piece: bytes) -> list[tuple[str, bytes]]:
        try:
            self.parser.write(piece)
        except MultipartParseError as exc:  # its message names a position, not the content
            raise Invalid(f"the multipart body is malformed: {exc}") from None
        events, self.events = self.events, []
        return events


def _boundary(content_type: str | None) -> bytes:
    media, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise Invalid("a batch is a multipart/form-data body with one part per file")
    return boundary


async def upload_batch(
    *,
    source: AsyncIterator[bytes],
    content_type: str | None,
    settings: Settings,
    staging: Staging,
    jobs: Jobs,
) -> list[StoredFile]:
    """Stage every file part, then register them all at once; on any failure, none."""
    reader = _BatchReader(_boundary(content_type))
    parts: list[_Part] = []
    try:
        await _stage_parts(reader, source, parts, settings, staging)
        if not parts:
            raise Invalid("the batch holds no file part")
        entries = [
            BatchEntry(
                id=p.headers["file_id"],
                name=p.headers["name"],
                content_type=p.headers["content_type"],
                size=p.staged.size,
                sha256=p.staged.sha256,
                staging_id=p.staged.staging_id,
            )
            for p in parts
            if p.staged is not None
        ]
        # The commit point: one document lists the whole batch. Once it exists the files are
        # registered (a sweep rolls a half-written batch forward); before it, nothing is.
        batch = Batch(files=entries)
        await batch.insert()
    except BaseException:
        for part in parts:
            if part.writer is not None and part.staged is None:
                await part.writer.abort()
            if part.staged is not None:
                await staging.delete(part.staged.staging_id)
        raise
    files = await commit_batch(batch=batch, jobs=jobs)
    size = sum(f.size for f in files)
    BYTES_STAGED.labels("batch").inc(size)
    FILES_STAGED.labels("batch").inc(len(files))
    log.info("batch %s registered %d files (%d bytes)", batch.id, len(files), size)
    return files


async def _stage_parts(
    reader: _BatchReader,
    source: AsyncIterator[bytes],
    parts: list[_Part],
    settings: Settings,
    staging: Staging,
) -> None:
    current: _Part | None = None
    header_field = header_value = b""
    digest = hashlib.sha256()
    size = 0
    async for piece in source:
        for kind, data in reader.feed(piece):
            if kind == "begin":
                current = _Part(index=len(parts) + 1)
                parts.append(current)
                if len(parts) > settings.batch_max_parts:
                    raise Invalid(f"a batch holds at most {settings.batch_max_parts} files")
                header_field, header_value, digest, size = b"", b"", hashlib.sha256(), 0
            elif current is None:
                continue
            elif kind == "hfield":
                header_field += data
            elif kind == "hvalue":
                header_value += data  # decoded whole: a piece may end inside a character
            elif kind == "hend":
                # Latin-1 keeps the bytes as they are: python-multipart's header parser encodes
                # back to Latin-1, and the filename is then decoded as UTF-8 (_open_part).
                name = header_field.decode("latin-1").lower()
                value = header_value.decode("latin-1")
                current.headers[name] = current.headers.get(name, "") + value
                header_field = header_value = b""
            elif kind == "headers":
                current.writer = _open_part(current, staging)
            elif kind == "data":
                size += len(data)
                if size > settings.max_upload_bytes:
                    raise PayloadTooLarge(
                        f"part {current.index} ({current.headers['name']!r}) is larger than "
                        f"the limit of {settings.max_upload_bytes} bytes"
                    )
                digest.update(data)
                await _writer(current).write(data)
            elif kind == "end":
                if size == 0:
                    raise Invalid(f"part {current.index} ({current.headers['name']!r}) is empty")
                writer = _writer(current)
                await writer.close()
                current.staged = Staged(
                    staging_id=writer.staging_id, size=size, sha256=digest.hexdigest()
                )
                current = None
    if current is not None:
        raise Invalid(f"the body ended inside part {current.index}")


def _writer(part: _Part) -> ChunkWriter:
    if part.writer is None:  # python-multipart reports headers before any data
        raise Invalid(f"part {part.index} has data before its headers end")
    return part.writer


def _open_part(part: _Part, staging: Staging) -> ChunkWriter:
    """Validate a part's headers and open its staging writer."""
    disposition = part.headers.get("content-disposition", "")
    _, params = parse_options_header(disposition)
    raw_name = params.get(b"filename")
    if raw_name is None:
        raise Invalid(f"part {part.index} is not a file (its Content-Disposition has no filename)")
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"part {part.index}: its filename is not UTF-8") from None
    try:
        name = check_file_name(name)
        content_type = check_content_type(part.headers.get("content-type") or DEFAULT_CONTENT_TYPE)
    except ValueError as exc:
        raise Invalid(f"part {part.index} ({name!r}): {exc}") from None
    file_id = new_id()
    part.headers.update(name=name, content_type=content_type, file_id=file_id)
    return staging.open_writer(file_id=file_id, filename=name)


async def commit_batch(*, batch: Batch, jobs: Jobs) -> list[StoredFile]:
    """Register every file of a committed batch (idempotent: the sweep may run it again)."""
    files = []
    for entry in batch.files:
        file = StoredFile(**entry.model_dump())
        with contextlib.suppress(DuplicateKeyError):  # registered by an earlier run
            await file.insert()
        files.append(file)
    await batch.delete()
    for file in files:
        await jobs.reconcile_file(file.id)
    await jobs.relay()
    return files
