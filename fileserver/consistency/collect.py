"""Read every side over its API: the Uploader (accounts, files, replicas), the Drive emulator
(what each account really holds), the Downloader (catalog, reports), and for a ``--cluster``
system the operator's DriveAccounts and FileReplicas (with the cluster's kubectl).

Answers are validated into the services' own schemas, so the checker cannot drift from them.
Drive is read through the emulator's admin API: a real Drive pool would need each account's
credentials, which only the Uploader holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from fileserver.consistency.model import (
    AccountUsage,
    AccountView,
    ClusterView,
    DriveAccountView,
    DriveFile,
    Figures,
    FileReplicaView,
    FileView,
    Replica,
    Snapshot,
)
from fileserver.devstack.errors import DevstackError
from fileserver.system import kube
from fileserver.system.cluster import ClusterSystem, System
from fileserver.system.kube import KubeCLI
from services.downloader.schemas import (
    AccountFigures,
    CatalogKind,
    CatalogPage,
    FileFigures,
    Report,
)
from services.shared.events import AccountState, FileState
from services.uploader.schemas import AccountRead, FileRead, Page

M = TypeVar("M", bound=BaseModel)
PAGE = 1000


class CollectError(Exception):
    """A side could not be read (not running, or refused the token)."""


@dataclass(frozen=True)
class ClusterSource:
    """Where the operator's resources are: the cluster's kubectl and the namespace."""

    kube: KubeCLI
    namespace: str


@dataclass(frozen=True)
class Endpoints:
    uploader: str
    uploader_token: str
    downloader: str
    downloader_admin_token: str
    downloader_internal_token: str
    emulator: str
    emulator_token: str
    cluster: ClusterSource | None = None

    @classmethod
    def of(cls, system: System, *, cluster: bool = False) -> Endpoints:
        """The system's services and the tokens ``fileserver up`` recorded (and, with
        ``cluster``, the release's namespace on the cluster of ``up --cluster``)."""
        if cluster and not isinstance(system, ClusterSystem):
            raise CollectError("--cluster: the system runs no cluster (fileserver up --cluster)")
        secrets = system.secrets
        return cls(
            uploader=system.url("uploader"),
            uploader_token=secrets.uploader_admin_token,
            downloader=system.url("downloader"),
            downloader_admin_token=secrets.downloader_admin_token,
            downloader_internal_token=secrets.downloader_internal_token,
            emulator=system.url("drive-emulator"),
            emulator_token=secrets.emulator_admin_token,
            cluster=ClusterSource(system.kube_tools(), system.namespace)
            if isinstance(system, ClusterSystem) and cluster
            else None,
        )


def collect(endpoints: Endpoints, *, timeout: float = 30.0) -> Snapshot:
    """Every side, read one after the other (compare only once the system is quiet)."""
    with (
        _client(endpoints.uploader, endpoints.uploader_token, timeout) as uploader,
        _client(endpoints.emulator, endpoints.emulator_token, timeout) as emulator,
        _client(endpoints.downloader, endpoints.downloader_admin_token, timeout) as reports,
        _client(endpoints.downloader, endpoints.downloader_internal_token, timeout) as internal,
    ):
        accounts = [a for page in _pages(uploader, "/accounts", AccountRead) for a in page]
        files = [f for page in _pages(uploader, "/files", FileRead) for f in page]
        return Snapshot(
            uploader_accounts=tuple(_account(a) for a in accounts),
            uploader_files=tuple(_file(f) for f in files),
            drive=_drive(emulator, accounts),
            catalog_accounts=tuple(
                _account(s) for s in _catalog(internal, CatalogKind.ACCOUNT, AccountState)
            ),
            catalog_files=tuple(_file(s) for s in _catalog(internal, CatalogKind.FILE, FileState)),
            report_files={
                row.id: Figures(row.downloads, row.bytes_total)
                for row in _report(reports, "files", FileFigures)
            },
            report_accounts={
                row.id: AccountUsage(
                    Figures(row.downloads, row.bytes_total),
                    row.issued_today,
                    row.daily_budget_bytes,
                )
                for row in _report(reports, "accounts", AccountFigures)
            },
            cluster=_cluster(endpoints.cluster) if endpoints.cluster else None,
        )


def _resources(source: ClusterSource, kind: str) -> list[dict[str, Any]]:
    try:
        out = source.kube("get", kind, f"--namespace={source.namespace}", "-o", "json")
        found: list[dict[str, Any]] = json.loads(out)["items"]
    except (DevstackError, ValueError, KeyError) as exc:
        raise CollectError(f"{kind} in namespace {source.namespace}: {exc}") from exc
    return found


def _cluster(source: ClusterSource) -> ClusterView:
    """The namespace's FileReplicas and DriveAccounts, reduced to what must agree."""
    replicas = []
    for item in _resources(source, "filereplicas"):
        status = item.get("status") or {}
        replicas.append(
            FileReplicaView(
                name=item["metadata"]["name"],
                file_id=item["spec"]["fileId"],
                phase=status.get("phase"),
                ready_replicas=status.get("readyReplicas"),
                desired_replicas=status.get("desiredReplicas"),
                deleting="deletionTimestamp" in item["metadata"],
            )
        )
    accounts = []
    for item in _resources(source, "driveaccounts"):
        ready, reason = kube.conditions(item).get("Ready", (None, None))
        accounts.append(
            DriveAccountView(
                name=item["metadata"]["name"],
                email=item["spec"]["email"],
                enabled=item["spec"].get("enabled", True),
                ready=ready,
                reason=reason,
                uploader_account_id=(item.get("status") or {}).get("uploaderAccountId"),
                deleting="deletionTimestamp" in item["metadata"],
            )
        )
    return ClusterView(tuple(replicas), tuple(accounts))


def _client(url: str, token: str, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def _get(http: httpx.Client, path: str, **params: Any) -> Any:
    try:
        answer = http.get(path, params=params)
    except httpx.TransportError as exc:
        raise CollectError(f"{http.base_url}{path}: {exc!r}") from exc
    if answer.status_code != 200:
        raise CollectError(f"{http.base_url}{path}: HTTP {answer.status_code} {answer.text[:200]}")
    return answer.json()


def _pages(http: httpx.Client, path: str, model: type[M]) -> Iterator[list[M]]:
    offset = 0
    while True:
        page = Page[model].model_validate(_get(http, path, offset=offset, limit=PAGE))  # type: ignore[valid-type]
        yield list(page.items)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def _report(http: httpx.Client, kind: str, model: type[M]) -> Iterator[M]:
    offset = 0
    while True:
        page = Report[model].model_validate(  # type: ignore[valid-type]
            _get(http, f"/reports/{kind}", offset=offset, limit=PAGE)
        )
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


S = TypeVar("S", AccountState, FileState)


def _catalog(http: httpx.Client, kind: CatalogKind, state: type[S]) -> Iterator[S]:
    """Live aggregates of one kind (tombstones are what the Uploader no longer lists)."""
    after = ""
    while True:
        page = CatalogPage.model_validate(
            _get(http, "/internal/catalog", kind=kind.value, after=after, limit=PAGE)
        )
        for entry in page.items:
            if isinstance(entry.state, state) and not entry.state.deleted:
                yield entry.state
        if page.next_after is None:
            return
        after = page.next_after


def _drive(emulator: httpx.Client, accounts: list[AccountRead]) -> dict[str, tuple[DriveFile, ...]]:
    """Each Uploader account's files on Drive (an account the emulator lacks holds nothing)."""
    by_email = {a["email"]: a["id"] for a in _get(emulator, "/_emulator/accounts")}
    held: dict[str, tuple[DriveFile, ...]] = {}
    for account in accounts:
        drive_id = by_email.get(account.email)
        listed = _get(emulator, f"/_emulator/accounts/{drive_id}/files") if drive_id else []
        held[account.id] = tuple(DriveFile(f["id"], f["size"], f["name"]) for f in listed)
    return held


def _account(account: AccountRead | AccountState) -> AccountView:
    return AccountView(account.id, account.email, account.daily_budget_bytes, account.enabled)


def _file(file: FileRead | FileState) -> FileView:
    replicas = (Replica(r.account_id, r.state.value, r.drive_file_id) for r in file.replicas)
    return FileView(
        file.id, file.status.value, file.size, tuple(sorted(replicas, key=attrgetter("account_id")))
    )
