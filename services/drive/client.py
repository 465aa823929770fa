"""The async Drive client of one account, over the synchronous google-api-python-client.

Every library call runs in the account's own thread pool, whose size bounds the account's
concurrent requests; the event loop only awaits. Each attempt's failure is classified
(:mod:`services.drive.errors`); rate limits and transient failures are retried with truncated
exponential backoff plus jitter (tenacity), quota, auth and not-found errors surface at once so
that the caller can choose another account. An auth failure marks the client unhealthy.

Uploads are resumable and chunked: a chunk that fails is retried on its own, and the library
first asks Drive for the session's offset (an empty ``PUT`` with ``Content-Range: bytes */N``),
so an interrupted upload continues where Drive's bytes end instead of starting over.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from services.drive import metrics
from services.drive.config import DriveSettings, get_settings
from services.drive.credentials import AccountCredentials
from services.drive.errors import AuthError, DriveError, NotFound, classify
from services.drive.media import AsyncStreamUpload
from services.drive.transport import ThreadTransports
from services.drive.urls import download_url

T = TypeVar("T")
log = logging.getLogger(__name__)

FILE_FIELDS = "id,name,mimeType,size,md5Checksum,createdTime"
ABOUT_FIELDS = "user(displayName,emailAddress),storageQuota(limit,usage,usageInDrive)"
ANYONE_READER = {"type": "anyone", "role": "reader", "allowFileDiscovery": False}


@dataclass(frozen=True)
class DriveFile:
    """A file as Drive describes it (``size`` and ``md5`` are absent for Google Docs)."""

    id: str
    name: str
    mime_type: str
    size: int | None
    md5: str | None
    created_time: datetime | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> DriveFile:
        created = body.get("createdTime")
        return cls(
            id=body["id"],
            name=body.get("name", ""),
            mime_type=body.get("mimeType", "application/octet-stream"),
            size=int(body["size"]) if "size" in body else None,
            md5=body.get("md5Checksum"),
            created_time=datetime.fromisoformat(created) if created else None,
        )


@dataclass(frozen=True)
class DriveAbout:
    """Who the credentials belong to and how much storage they have (``limit`` None: none)."""

    email: str
    display_name: str
    storage_limit: int | None
    storage_usage: int
    usage_in_drive: int


@dataclass
class AccountHealth:
    """Whether Drive accepts the account's credentials, as last observed."""

    healthy: bool = True
    reason: str | None = None


class DriveClient:
    """Drive operations for one account; use as ``async with DriveClient(...) as client``."""

    def __init__(
        self,
        credentials: AccountCredentials,
        settings: DriveSettings | None = None,
        *,
        account_id: str,
        parent_id: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings or get_settings()
        self.account_id = account_id
        self.parent_id = parent_id
        self.health = AccountHealth()
        self._credentials = credentials
        self._sleep = sleep
        self._transports = ThreadTransports(
            credentials.to_google(self.settings.scopes), self.settings
        )
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.concurrency_per_account,
            thread_name_prefix=f"drive-{account_id}",
        )
        metrics.ACCOUNT_HEALTHY.labels(account_id).set(1)

    def __repr__(self) -> str:
        return f"DriveClient(account_id={self.account_id!r}, credentials='{self._credentials}')"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for running calls, then close every connection."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        self._transports.close()

    # Operations -------------------------------------------------------------------------------

    async def upload(
        self,
        stream: AsyncIterator[bytes],
        name: str,
        size: int,
        mime: str = "application/octet-stream",
    ) -> DriveFile:
        """Upload exactly ``size`` bytes from ``stream`` as a new file, chunk by chunk."""
        media = AsyncStreamUpload(
            stream,
            size=size,
            mimetype=mime,
            chunksize=self.settings.chunk_size,
            loop=asyncio.get_running_loop(),
            timeout=self.settings.source_timeout_seconds,
        )
        metadata: dict[str, Any] = {"name": name, "mimeType": mime, **self._parents()}
        request = await self._in_thread(
            lambda: (
                self._transports.service()
                .files()
                .create(body=metadata, media_body=media, fields=FILE_FIELDS, supportsAllDrives=True)
            )
        )
        failed = False

        def step() -> tuple[Any, Any]:
            nonlocal failed
            resuming = failed and request.resumable_uri is not None
            failed = True
            result: tuple[Any, Any] = request.next_chunk(
                http=self._transports.http(), num_retries=0
            )
            failed = False
            if resuming:
                metrics.UPLOAD_RESUMES.labels(self.account_id).inc()
                log.info(
                    "account %s: upload of %r resumed at byte %d of %d, Drive's offset",
                    self.account_id,
                    name,
                    media.offset,
                    size,
                )
            return result

        body = None
        while body is None:
            _, body = await self._call("upload", step)
        metrics.UPLOAD_BYTES.labels(self.account_id).inc(size)
        return DriveFile.from_api(body)

    async def copy(self, file_id: str, name: str) -> DriveFile:
        """Server-side copy of a file this account can read (e.g. shared inside the pool)."""
        body = {"name": name, **self._parents()}
        return DriveFile.from_api(
            await self._execute(
                "copy",
                lambda s: s.files().copy(
                    fileId=file_id, body=body, fields=FILE_FIELDS, supportsAllDrives=True
                ),
            )
        )

    async def get(self, file_id: str) -> DriveFile:
        """The file's metadata."""
        return DriveFile.from_api(
            await self._execute(
                "get",
                lambda s: s.files().get(fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True),
            )
        )

    async def delete(self, file_id: str, *, missing_ok: bool = False) -> None:
        """Delete the file for good (not to the trash)."""
        try:
            await self._execute(
                "delete", lambda s: s.files().delete(fileId=file_id, supportsAllDrives=True)
            )
        except NotFound:
            if not missing_ok:
                raise

    async def share_anyone_reader(self, file_id: str) -> str:
        """Let anyone with the link read the file (download URLs need it); the permission id."""
        permission = await self._execute(
            "share",
            lambda s: s.permissions().create(
                fileId=file_id, body=ANYONE_READER, fields="id", supportsAllDrives=True
            ),
        )
        return str(permission["id"])

    def download_url(self, file_id: str, size: int) -> str:
        """The public download URL of a shared file (see :mod:`services.drive.urls`)."""
        return download_url(self.settings, file_id, size)

    async def read(self, file_id: str, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of the file, through the API (small reads only)."""

        def build(service: Any) -> Any:
            request = service.files().get_media(fileId=file_id, supportsAllDrives=True)
            request.headers["Range"] = f"bytes={start}-{end}"
            return request

        data = await self._execute("read", build)
        return bytes(data)

    async def about(self) -> DriveAbout:
        """The account's identity and storage quota."""
        body = await self._execute("about", lambda s: s.about().get(fields=ABOUT_FIELDS))
        quota = body.get("storageQuota", {})
        user = body.get("user", {})
        return DriveAbout(
            email=user.get("emailAddress", ""),
            display_name=user.get("displayName", ""),
            storage_limit=int(quota["limit"]) if "limit" in quota else None,
            storage_usage=int(quota.get("usage", 0)),
            usage_in_drive=int(quota.get("usageInDrive", 0)),
        )

    async def list(self, *, name: str | None = None) -> builtins.list[DriveFile]:
        """Every non-trashed file of the account (in ``parent_id`` when set), page by page."""
        clauses = ["trashed = false"]
        if name is not None:
            clauses.append("name = '{}'".format(name.replace("\\", "\\\\").replace("'", "\\'")))
        if self.parent_id is not None:
            clauses.append(f"'{self.parent_id}' in parents")
        query = " and ".join(clauses)

        def page_request(service: Any, token: str | None) -> Any:
            return service.files().list(
                q=query,
                pageSize=1000,
                pageToken=token,
                fields=f"nextPageToken,files({FILE_FIELDS})",
                supportsAllDrives=True,
                includeItemsFromAllDrives=self.parent_id is not None,
            )

        files: builtins.list[DriveFile] = []
        token: str | None = None
        while True:
            page = await self._execute("list", partial(page_request, token=token))
            files.extend(DriveFile.from_api(item) for item in page.get("files", []))
            token = page.get("nextPageToken")
            if not token:
                return files

    # Machinery --------------------------------------------------------------------------------

    def _parents(self) -> dict[str, Any]:
        return {"parents": [self.parent_id]} if self.parent_id else {}

    async def _execute(self, operation: str, build: Callable[[Any], Any]) -> Any:
        """Build a request from the service and execute it, with retries."""

        def run() -> Any:
            request = build(self._transports.service())
            return request.execute(http=self._transports.http(), num_retries=0)

        return await self._call(operation, run)

    async def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the account's pool; retry rate limits and transient failures."""
        s = self.settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(s.retry_max_attempts),
            wait=wait_exponential_jitter(
                multiplier=s.retry_initial_seconds,
                max=s.retry_max_seconds,
                jitter=s.retry_jitter_seconds,
            ),
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=lambda state: self._before_retry(operation, state),
            reraise=True,
        )
        return await retrying(self._attempt, operation, fn)

    async def _attempt(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            result = await self._in_thread(fn)
        except Exception as exc:
            error = classify(exc, operation=operation)
            if error is None:
                raise
            self._observe(operation, error)
            if error is exc:
                raise
            # A refresh error's chain holds the token endpoint's raw answer: leave it out.
            raise error from (None if isinstance(exc, RefreshError) else exc)
        self._observe(operation, None)
        return result

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return fn()
            except HttpError:
                raise  # a complete answer: the connection is fine
            except Exception:
                self._transports.reset()
                raise

        return await asyncio.get_running_loop().run_in_executor(self._executor, guarded)

    def _observe(self, operation: str, error: DriveError | None) -> None:
        outcome = "ok" if error is None else type(error).__name__
        metrics.REQUESTS.labels(self.account_id, operation, outcome).inc()
        if isinstance(error, AuthError):
            if self.health.healthy:
                log.warning("account %s: credentials refused: %s", self.account_id, error)
            self.health = AccountHealth(healthy=False, reason=str(error))
            metrics.ACCOUNT_HEALTHY.labels(self.account_id).set(0)
        elif error is None and not self.health.healthy:
            self.health = AccountHealth()
            metrics.ACCOUNT_HEALTHY.labels(self.account_id).set(1)

    def _before_retry(self, operation: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        metrics.RETRIES.labels(self.account_id, operation, type(error).__name__).inc()
        log.warning(
            "account %s: %s attempt %d failed (%s); retrying in %.2f s",
            self.account_id,
            operation,
            state.attempt_number,
            error,
            delay,
        )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DriveError) and exc.retryable
