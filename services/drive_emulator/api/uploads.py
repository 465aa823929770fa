"""Drive v3 uploads: ``uploadType=multipart`` / ``media`` in one request, ``resumable`` in many.

A resumable upload starts with ``POST ?uploadType=resumable`` (metadata in the body, size in
``X-Upload-Content-Length``) and gets its session URL in ``Location``. Chunks are ``PUT`` there
with ``Content-Range: bytes a-b/total``; until the last one the answer is ``308`` with
``Range: bytes=0-n`` (absent while nothing is stored), then ``200`` with the file. A ``PUT``
with ``Content-Range: bytes */total`` and no body asks where the session stands. Bytes that
arrive before a connection drops are kept, so a client resumes from the offset it is told,
which may fall inside the chunk it was sending.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from services.drive_emulator import errors, fields, metrics
from services.drive_emulator.api.files import json_body
from services.drive_emulator.deps import AccountDep, CallerDep, RuntimeDep
from services.drive_emulator.faults import DropConnection
from services.drive_emulator.runtime import Runtime
from services.drive_emulator.service import create_file, file_resource, timestamp
from services.drive_emulator.store import Account, FileRecord, UploadSession

router = APIRouter(prefix="/upload/drive/v3", tags=["uploads"])

SIMPLE_MAX = 5 * 1024 * 1024  # Drive's limit for multipart and media uploads
FLUSH = 1024 * 1024
_session_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


def _resource(
    runtime: Runtime,
    request: Request,
    record: FileRecord,
    account: Account,
    selection: str | None,
) -> JSONResponse:
    """The file's JSON, restricted to the ``fields`` the upload asked for."""
    resource = file_resource(record, account, viewer=account, root_url=runtime.root_url(request))
    return JSONResponse(fields.select(resource, fields.parse(selection or fields.FILE_DEFAULT)))


@router.post("/files")
async def start_upload(
    request: Request,
    runtime: RuntimeDep,
    account: AccountDep,
    upload_type: Annotated[str, Query(alias="uploadType")] = "media",
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> Response:
    """files.create with media: opens a resumable session, or takes a small file at once."""
    if upload_type == "resumable":
        return await _open_session(request, runtime, account, fields_)
    if upload_type not in {"multipart", "media"}:
        raise errors.bad_request(f"Invalid upload type: {upload_type}", location="uploadType")
    body = await request.body()
    if len(body) > SIMPLE_MAX + 64 * 1024:
        raise errors.bad_request("Media larger than 5 MB: use uploadType=resumable")
    content_type = request.headers.get("content-type", "application/octet-stream")
    if upload_type == "multipart":
        metadata, media, mime_type = _split_multipart(content_type, body)
    else:
        metadata, media, mime_type = {}, body, content_type
    part = runtime.store.part("simple-" + secrets.token_urlsafe(16))
    await anyio.Path(part).write_bytes(media)
    metrics.BYTES_RECEIVED.labels(account.id).inc(len(media))
    try:
        record = await create_file(
            runtime, account=account, metadata=metadata, mime_type=mime_type, content=part
        )
    finally:
        await anyio.Path(part).unlink(missing_ok=True)
    return _resource(runtime, request, record, account, fields_)


async def _open_session(
    request: Request, runtime: Runtime, account: Account, selection: str | None
) -> Response:
    metadata = await json_body(request)
    declared = request.headers.get("x-upload-content-length")
    try:
        size = int(declared) if declared is not None else None
    except ValueError:
        raise errors.bad_request("Invalid X-Upload-Content-Length") from None
    await runtime.quotas.check_new_file(account, size)
    mime_type = (
        request.headers.get("x-upload-content-type")
        or metadata.get("mimeType")
        or "application/octet-stream"
    )
    session = UploadSession(
        id=secrets.token_urlsafe(32),
        account_id=account.id,
        metadata=metadata,
        size=size,
        mime_type=str(mime_type),
        fields=selection,
        file_id=None,
        created_at=timestamp(runtime),
    )
    await runtime.store.add_upload(session)
    query = urlencode({"uploadType": "resumable", "upload_id": session.id})
    return Response(
        status_code=200,
        headers={
            "Location": f"{runtime.root_url(request)}upload/drive/v3/files?{query}",
            "X-GUploader-UploadID": session.id,
        },
    )


@router.put("/files")
async def put_chunk(
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    upload_id: str,
) -> Response:
    """A chunk of a resumable upload, or (no body) a question about the session's offset."""
    session = await runtime.store.upload(upload_id)
    if session is None:
        raise errors.upload_session_not_found()
    account = caller or await runtime.store.account(session.account_id)
    if account is None or account.id != session.account_id:
        raise errors.upload_session_not_found()
    async with _session_locks[upload_id]:
        return await _put(request, runtime, account, session)


async def _put(
    request: Request, runtime: Runtime, account: Account, session: UploadSession
) -> Response:
    drop = await runtime.guard(request, account)
    session = await runtime.store.upload(session.id) or session
    if session.file_id is not None:  # complete: Drive answers with the file it made
        record = await runtime.store.file(session.file_id)
        if record is None:
            raise errors.upload_session_not_found()
        return _resource(runtime, request, record, account, session.fields)
    part = anyio.Path(runtime.store.part(session.id))
    received = (await part.stat()).st_size
    span, total = _content_range(request)
    if session.size is not None and total is not None and total != session.size:
        raise errors.bad_request(
            f"Content-Range total {total} differs from the declared size {session.size}"
        )
    total = total if total is not None else session.size
    if span is None:
        if drop is not None:
            raise DropConnection
    else:
        start, end = span
        if start > received:
            raise errors.bad_request(
                "Invalid request. According to the Content-Range header, the upload offset is "
                f"{start} byte(s), which exceeds already uploaded size of {received} byte(s)."
            )
        received = await _receive(
            request,
            part,
            account,
            received=received,
            skip=received - start,
            keep=max(0, end + 1 - received),
            drop_after=drop,
        )
    if total is not None and received >= total:
        return await _finish(request, runtime, account, session)
    headers = {"X-GUploader-UploadID": session.id, "Content-Length": "0"}
    if received:
        headers["Range"] = f"bytes=0-{received - 1}"
    return Response(status_code=308, headers=headers)


def _content_range(request: Request) -> tuple[tuple[int, int] | None, int | None]:
    """The byte span and total of ``Content-Range``; no span for a status question."""
    header = request.headers.get("content-range")
    if header is None:  # the whole upload in one request
        length = int(request.headers.get("content-length", "0"))
        return ((0, length - 1) if length else None), length
    unit, _, spec = header.strip().partition(" ")
    span, _, total_text = spec.partition("/")
    try:
        total = None if total_text == "*" else int(total_text)
        if unit != "bytes":
            raise ValueError(unit)
        if span == "*":
            return None, total
        first, _, last = span.partition("-")
        start, end = int(first), int(last)
    except ValueError:
        raise errors.bad_request("Failed to parse Content-Range header.") from None
    if end < start or (total is not None and end >= total):
        raise errors.bad_request("Failed to parse Content-Range header.")
    return (start, end), total


async def _receive(
    request: Request,
    part: anyio.Path,
    account: Account,
    *,
    received: int,
    skip: int,
    keep: int,
    drop_after: int | None,
) -> int:
    """Append the body to the part file (minus ``skip`` bytes already held); new size."""
    pending = bytearray()
    read = 0
    dropped = False  # the drop fault's byte budget is used up
    async with await part.open("r+b") as file:
        await file.seek(received)
        try:
            async for piece in request.stream():
                if drop_after is not None and read + len(piece) >= drop_after:
                    piece, dropped = piece[: drop_after - read], True
                read += len(piece)
                metrics.BYTES_RECEIVED.labels(account.id).inc(len(piece))
                cut = min(skip, len(piece))
                skip -= cut
                pending += piece[cut : cut + keep - len(pending)]
                if len(pending) >= FLUSH:
                    await file.write(bytes(pending))
                    received, keep = received + len(pending), keep - len(pending)
                    pending.clear()
                if dropped:
                    break
        except ClientDisconnect:
            pass  # keep what arrived: the client will ask where to resume
        await file.write(bytes(pending))
        received += len(pending)
    if dropped or drop_after is not None:  # a drop fault drops even a body shorter than its budget
        raise DropConnection
    return received


async def _finish(
    request: Request, runtime: Runtime, account: Account, session: UploadSession
) -> Response:
    try:
        record = await create_file(
            runtime,
            account=account,
            metadata=session.metadata,
            mime_type=session.mime_type,
            content=runtime.store.part(session.id),
            upload_cap=session.size is None,
        )
    except errors.DriveApiError:
        await runtime.store.drop_upload(session.id)
        raise
    await runtime.store.complete_upload(session.id, record.id)
    _session_locks.pop(session.id, None)
    return _resource(runtime, request, record, account, session.fields)


def _split_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes, str]:
    """Metadata, media and media type of a ``multipart/related`` body."""
    boundary = ""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not content_type.lower().startswith("multipart/related") or not boundary:
        raise errors.bad_request("Multipart upload needs Content-Type multipart/related")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in body.split(b"--" + boundary.encode())[1:-1]:
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        crlf, lf = chunk.find(b"\r\n\r\n"), chunk.find(b"\n\n")
        cut, width = (crlf, 4) if crlf != -1 and (lf == -1 or crlf < lf) else (lf, 2)
        if cut == -1:
            raise errors.bad_request("Malformed multipart body")
        head, content = chunk[:cut], chunk[cut + width :]
        content = (
            content.removesuffix(b"\r\n")
            if content.endswith(b"\r\n")
            else (content.removesuffix(b"\n"))
        )
        headers = {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        parts.append((headers, content))
    if len(parts) != 2:
        raise errors.bad_request("Multipart upload needs exactly a metadata and a media part")
    (_, meta_raw), (media_headers, media) = parts
    try:
        metadata = json.loads(meta_raw or b"{}")
    except ValueError:
        raise errors.bad_request("Invalid JSON payload received.") from None
    return metadata, media, media_headers.get("content-type", "application/octet-stream")
