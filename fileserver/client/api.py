"""``FileserverClient``: the Uploader's and Downloader's APIs as typed Python calls.

Answers are validated into the services' own read schemas, so the client and the services
cannot drift apart silently; every failure becomes a ``ClientError`` with its exit code.
Download URLs point at Drive (or the emulator) and are fetched without any credential.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from fileserver.client.config import ClientConfig
from fileserver.client.errors import ClientError, ExitCode, response_error, transport_error
from services.downloader.schemas import AccountFigures, DownloadTicket, FileFigures, Report
from services.shared.events import FileStatus
from services.uploader.schemas import (
    AccountRead,
    BatchRead,
    FileRead,
    Page,
    UploadSessionRead,
)

M = TypeVar("M", bound=BaseModel)
ReportKind = Literal["files", "accounts"]
SETTLED = {FileStatus.UPLOADED, FileStatus.FAILED}


class FileserverClient:
    """One connection pool per service; use it as a context manager."""

    def __init__(self, config: ClientConfig, *, timeout: float = 60.0) -> None:
        self.config = config
        self.uploader = httpx.Client(
            base_url=config.uploader_url, headers=_auth(config.uploader_token), timeout=timeout
        )
        self.downloader = httpx.Client(
            base_url=config.downloader_url, headers=_auth(config.downloader_token), timeout=timeout
        )
        self.drive = httpx.Client(timeout=timeout)  # download URLs: no credential, ever

    def __enter__(self) -> FileserverClient:
        return self

    def __exit__(self, *_: object) -> None:
        for http in (self.uploader, self.downloader, self.drive):
            http.close()

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, http: httpx.Client, method: str, path: str, what: str, **kw: Any) -> Any:
        try:
            response = http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise transport_error(exc, what, f"{http.base_url}") from exc
        if response.status_code >= 400:
            raise response_error(response, what)
        return response

    def _json(
        self, model: type[M], http: httpx.Client, method: str, path: str, what: str, **kw: Any
    ) -> M:
        return model.model_validate(self._call(http, method, path, what, **kw).json())

    # --- accounts --------------------------------------------------------------------------

    def list_accounts(self, *, offset: int = 0, limit: int = 100) -> Page[AccountRead]:
        params = {"offset": offset, "limit": limit}
        return self._json(
            Page[AccountRead], self.uploader, "GET", "/accounts", "listing accounts", params=params
        )

    def all_accounts(self) -> list[AccountRead]:
        found: list[AccountRead] = []
        while len(page := self.list_accounts(offset=len(found), limit=1000).items) > 0:
            found += page
        return found

    def get_account(self, ref: str) -> AccountRead:
        """An account by id, or by email (anything containing ``@``)."""
        if "@" in ref:
            match = next((a for a in self.all_accounts() if a.email == ref), None)
            if match is None:
                raise ClientError(f"no account with email {ref}", ExitCode.NOT_FOUND)
            return match
        return self._json(
            AccountRead, self.uploader, "GET", f"/accounts/{ref}", f"reading account {ref}"
        )

    def create_account(self, body: dict[str, Any]) -> AccountRead:
        return self._json(
            AccountRead,
            self.uploader,
            "POST",
            "/accounts",
            f"adding account {body.get('email')}",
            json=body,
        )

    def update_account(self, account_id: str, body: dict[str, Any]) -> AccountRead:
        return self._json(
            AccountRead,
            self.uploader,
            "PATCH",
            f"/accounts/{account_id}",
            f"updating account {account_id}",
            json=body,
        )

    def delete_account(self, account_id: str) -> AccountRead:
        return self._json(
            AccountRead,
            self.uploader,
            "DELETE",
            f"/accounts/{account_id}",
            f"removing account {account_id}",
        )

    # --- files -----------------------------------------------------------------------------

    def upload(
        self, chunks: Iterable[bytes], *, name: str, size: int, content_type: str
    ) -> FileRead:
        """Stream one file's bytes in a single request."""
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        return self._json(
            FileRead,
            self.uploader,
            "POST",
            "/files",
            f"uploading {name}",
            params={"name": name},
            content=chunks,
            headers=headers,
        )

    def upload_batch(self, parts: Sequence[tuple[str, IO[bytes], str]]) -> list[FileRead]:
        """Several files in one multipart request: all are registered, or none is."""
        files = [("files", part) for part in parts]
        what = f"uploading a batch of {len(parts)} files"
        return self._json(BatchRead, self.uploader, "POST", "/files:batch", what, files=files).files

    def create_session(
        self, *, name: str, size: int, content_type: str, sha256: str | None
    ) -> UploadSessionRead:
        body = {"name": name, "size": size, "content_type": content_type, "sha256": sha256}
        return self._json(
            UploadSessionRead,
            self.uploader,
            "POST",
            "/uploads",
            f"opening an upload session for {name}",
            json=body,
        )

    def get_session(self, session_id: str) -> UploadSessionRead:
        return self._json(
            UploadSessionRead,
            self.uploader,
            "GET",
            f"/uploads/{session_id}",
            f"reading upload session {session_id}",
        )

    def put_range(self, session: UploadSessionRead, first: int, data: bytes) -> UploadSessionRead:
        last = first + len(data) - 1
        headers = {"Content-Range": f"bytes {first}-{last}/{session.size}"}
        return self._json(
            UploadSessionRead,
            self.uploader,
            "PUT",
            f"/uploads/{session.id}",
            f"sending bytes {first}-{last} of {session.name}",
            content=data,
            headers=headers,
        )

    def finish_session(self, session_id: str) -> FileRead:
        return self._json(
            FileRead,
            self.uploader,
            "POST",
            f"/uploads/{session_id}:finish",
            f"finishing upload session {session_id}",
        )

    def list_files(
        self,
        *,
        status: FileStatus | None = None,
        name_prefix: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[FileRead]:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        params |= {k: v for k, v in {"status": status, "name_prefix": name_prefix}.items() if v}
        return self._json(
            Page[FileRead], self.uploader, "GET", "/files", "listing files", params=params
        )

    def get_file(self, file_id: str) -> FileRead:
        return self._json(
            FileRead, self.uploader, "GET", f"/files/{file_id}", f"reading file {file_id}"
        )

    def delete_file(self, file_id: str) -> FileRead:
        return self._json(
            FileRead, self.uploader, "DELETE", f"/files/{file_id}", f"deleting file {file_id}"
        )

    def wait_file(self, file_id: str, *, timeout: float, poll: float = 0.5) -> FileRead:
        """The file once ``uploaded`` or ``failed``; NOT_READY if neither after ``timeout`` s."""
        try:
            return Retrying(
                stop=stop_after_delay(timeout),
                wait=wait_fixed(poll),
                retry=retry_if_result(lambda f: f.status not in SETTLED),
            )(self.get_file, file_id)
        except RetryError as exc:
            last = exc.last_attempt.result()
            raise ClientError(
                f"file {file_id} is still {last.status.value} after {timeout:g} s",
                ExitCode.NOT_READY,
            ) from exc

    # --- downloads and reports -------------------------------------------------------------

    def ticket(
        self,
        file_id: str,
        *,
        offset: int | None = None,
        length: int | None = None,
        wait: float = 0.0,
    ) -> DownloadTicket:
        """A download URL for the file (or one byte range of it), charged to one account.

        ``wait`` > 0 retries a 409 for that long: for a file the Uploader already reports
        ``uploaded``, it only means the Downloader has not received that event yet (no URL is
        issued, nothing is charged meanwhile)."""
        params = {k: v for k, v in {"offset": offset, "length": length}.items() if v is not None}

        def once() -> DownloadTicket:
            return self._json(
                DownloadTicket,
                self.downloader,
                "GET",
                f"/files/{file_id}/download",
                f"getting a download URL for {file_id}",
                params=params,
            )

        if wait <= 0:
            return once()
        return Retrying(
            stop=stop_after_delay(wait),
            wait=wait_fixed(0.5),
            retry=retry_if_exception(
                lambda exc: isinstance(exc, ClientError) and exc.code == ExitCode.NOT_READY
            ),
            reraise=True,
        )(once)

    def wait_rotation(self, file_id: str, *, accounts: int, timeout: float) -> set[str]:
        """Ask for 1-byte URLs until ``accounts`` distinct accounts serve the file: the
        Downloader learns replicas from the Uploader's events, a moment after ``uploaded``.
        Returns the accounts seen (fewer than asked if ``timeout`` passed)."""
        seen: set[str] = set()

        def probe() -> set[str]:
            try:
                seen.update(
                    self.ticket(file_id, offset=0, length=1).account_id for _ in range(accounts)
                )
            except ClientError as exc:  # the Downloader has not learned the replicas yet
                if exc.code not in (ExitCode.NOT_READY, ExitCode.NOT_FOUND):
                    raise
            return seen

        with contextlib.suppress(RetryError):
            Retrying(
                stop=stop_after_delay(timeout),
                wait=wait_fixed(0.5),
                retry=retry_if_result(lambda found: len(found) < accounts),
            )(probe)
        return seen

    @contextlib.contextmanager
    def fetch(self, ticket: DownloadTicket) -> Iterator[httpx.Response]:
        """The bytes a ticket grants, streamed from Drive."""
        headers = {"Range": ticket.range} if ticket.range else {}
        what = f"downloading {ticket.file_id} from account {ticket.account_id}"
        try:
            with self.drive.stream("GET", ticket.url, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    raise response_error(response, what)
                yield response
        except httpx.TransportError as exc:
            raise transport_error(exc, what, ticket.url.split("?")[0]) from exc

    def files_report(
        self, *, sort: str | None = None, limit: int | None = None, offset: int = 0
    ) -> Report[FileFigures]:
        return self._json(
            Report[FileFigures],
            self.downloader,
            "GET",
            "/reports/files",
            "reading the files report",
            params=_report_params(sort, limit, offset),
        )

    def accounts_report(
        self, *, sort: str | None = None, limit: int | None = None, offset: int = 0
    ) -> Report[AccountFigures]:
        return self._json(
            Report[AccountFigures],
            self.downloader,
            "GET",
            "/reports/accounts",
            "reading the accounts report",
            params=_report_params(sort, limit, offset),
        )

    def report_csv(
        self,
        kind: ReportKind,
        *,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[str]:
        """The report as CSV text, streamed (the service pages through it for any size)."""
        params = _report_params(sort, limit, offset) | {"format": "csv"}
        what = f"reading the {kind} report"
        try:
            with self.downloader.stream("GET", f"/reports/{kind}", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise response_error(response, what)
                yield from response.iter_text()
        except httpx.TransportError as exc:
            raise transport_error(exc, what, f"{self.downloader.base_url}") from exc


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _report_params(sort: str | None, limit: int | None, offset: int) -> dict[str, Any]:
    params: dict[str, Any] = {"offset": offset}
    params |= {k: v for k, v in {"sort": sort, "limit": limit}.items() if v is not None}
    return params
