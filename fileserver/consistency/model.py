"""What the checker compares: each side reduced to the facts that must agree, and what it
reports. Plain frozen data, so the comparison is tested on hand-made snapshots."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Every kind of discrepancy, named as the report shows it."""

    LOST_FILE = "lost-file"  # uploaded, yet no ready replica whose bytes Drive holds
    MISSING_DRIVE_FILE = "missing-drive-file"  # a ready replica Drive does not hold (as sized)
    ORPHAN_DRIVE_FILE = "orphan-drive-file"  # on Drive, referenced by no replica
    UNSETTLED_FILE = "unsettled-file"  # still replicating or deleting, or failed
    CATALOG_FILE = "catalog-file"  # a file one side only knows, or with another status
    CATALOG_REPLICA = "catalog-replica"  # a replica one side only knows, or in another state
    CATALOG_ACCOUNT = "catalog-account"  # an account one side only knows, or differing
    STATS = "stats"  # figures not equal to the URLs actually issued
    OVER_BUDGET = "over-budget"  # more bytes issued today than the account's daily budget
    CLUSTER_FILE = "cluster-file"  # a file without its FileReplica, one without its file, or
    # a FileReplica whose phase disagrees with the Uploader
    CLUSTER_ACCOUNT = "cluster-account"  # a DriveAccount not Ready, or not the Uploader's


@dataclass(frozen=True)
class Replica:
    account_id: str
    state: str
    drive_file_id: str | None


@dataclass(frozen=True)
class FileView:
    """A file as one side knows it (Uploader or Downloader catalog)."""

    id: str
    status: str
    size: int
    replicas: tuple[Replica, ...] = ()


@dataclass(frozen=True)
class AccountView:
    id: str
    email: str
    daily_budget_bytes: int
    enabled: bool


@dataclass(frozen=True)
class DriveFile:
    """A file Drive holds for an account."""

    id: str
    size: int
    name: str = ""


@dataclass(frozen=True)
class Figures:
    """Download URLs and their bytes."""

    downloads: int = 0
    bytes: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.downloads + other.downloads, self.bytes + other.bytes)


@dataclass(frozen=True)
class AccountUsage:
    """An account's row of the accounts report."""

    totals: Figures
    issued_today: int
    daily_budget_bytes: int


@dataclass(frozen=True)
class Truth:
    """The URLs a client really received (ground truth for the statistics).

    ``unsure`` counts, per file, requests whose answer never arrived (the connection broke):
    the Downloader may have issued and recorded that URL, so the figures may exceed the truth
    by at most that much, never fall below it."""

    files: dict[str, Figures] = field(default_factory=dict)
    accounts: dict[str, Figures] = field(default_factory=dict)
    unsure: dict[str, Figures] = field(default_factory=dict)
    kept: frozenset[str] = frozenset()  # uploads acknowledged and never deleted: must be live
    deleted: frozenset[str] = frozenset()  # deletions acknowledged: must be gone

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        def figures(part: dict[str, Any]) -> dict[str, Figures]:
            return {key: Figures(**value) for key, value in part.items()}

        return cls(
            figures(data.get("files", {})),
            figures(data.get("accounts", {})),
            figures(data.get("unsure", {})),
            frozenset(data.get("kept", ())),
            frozenset(data.get("deleted", ())),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "files": {k: asdict(v) for k, v in sorted(self.files.items())},
            "accounts": {k: asdict(v) for k, v in sorted(self.accounts.items())},
            "unsure": {k: asdict(v) for k, v in sorted(self.unsure.items())},
            "kept": sorted(self.kept),
            "deleted": sorted(self.deleted),
        }


@dataclass(frozen=True)
class FileReplicaView:
    """A FileReplica resource as the operator left it."""

    name: str
    file_id: str
    phase: str | None
    ready_replicas: int | None
    desired_replicas: int | None
    deleting: bool = False


@dataclass(frozen=True)
class DriveAccountView:
    """A DriveAccount resource as the operator left it."""

    name: str
    email: str
    enabled: bool
    ready: str | None  # the Ready condition's status ("True", "False", "Unknown") and reason
    reason: str | None
    uploader_account_id: str | None
    deleting: bool = False


@dataclass(frozen=True)
class ClusterView:
    """The resources of the namespace the operator runs (``--cluster`` systems)."""

    file_replicas: tuple[FileReplicaView, ...]
    drive_accounts: tuple[DriveAccountView, ...]


@dataclass(frozen=True)
class Snapshot:
    """Every side at (about) one moment; ``drive`` is keyed by the Uploader's account id."""

    uploader_accounts: tuple[AccountView, ...]
    uploader_files: tuple[FileView, ...]
    drive: dict[str, tuple[DriveFile, ...]]
    catalog_accounts: tuple[AccountView, ...]  # live ones (tombstones left out)
    catalog_files: tuple[FileView, ...]
    report_files: dict[str, Figures]  # live files only, as the report lists them
    report_accounts: dict[str, AccountUsage]
    cluster: ClusterView | None = None

    def sizes(self) -> dict[str, int]:
        sizes = {
            "accounts": len(self.uploader_accounts),
            "files": len(self.uploader_files),
            "drive_files": sum(len(files) for files in self.drive.values()),
            "catalog_files": len(self.catalog_files),
        }
        if self.cluster is not None:
            sizes["file_replicas"] = len(self.cluster.file_replicas)
            sizes["drive_accounts"] = len(self.cluster.drive_accounts)
        return sizes


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    subject: str  # file:<id>, account:<id>, drive:<account id>/<drive file id>
    detail: str


@dataclass(frozen=True)
class CheckResult:
    discrepancies: tuple[Discrepancy, ...]
    sizes: dict[str, int]

    @property
    def consistent(self) -> bool:
        return not self.discrepancies

    def by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys((k.value for k in Kind), 0)
        for item in self.discrepancies:
            counts[item.kind.value] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "sizes": self.sizes,
            "by_kind": self.by_kind(),
            "discrepancies": [
                {"kind": d.kind.value, "subject": d.subject, "detail": d.detail}
                for d in self.discrepancies
            ],
        }
