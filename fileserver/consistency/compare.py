"""The comparison itself: pure, so every rule is tested on hand-made snapshots.

After load and faults stop, a converged system has: every uploaded file on Drive on each
ready replica; nothing on Drive that no replica refers to; no file still replicating, deleting
or failed; the Downloader's catalog equal to the Uploader's accounts, files and replicas; the
statistics equal to the URLs clients received; no account issued beyond its daily budget.
In cluster mode also: one FileReplica per file (by ``spec.fileId``), ``Ready`` with all its
desired replicas for an uploaded file, none for a file that is gone; every enabled DriveAccount
``Ready`` and registered as an Uploader account that exists.
"""

from __future__ import annotations

from collections.abc import Iterator

from fileserver.consistency.model import (
    AccountView,
    CheckResult,
    Discrepancy,
    Figures,
    FileReplicaView,
    FileView,
    Kind,
    Replica,
    Snapshot,
    Truth,
)
from services.shared.events import FileStatus, ReplicaState

SETTLED = {FileStatus.UPLOADED.value}


def compare(snapshot: Snapshot, truth: Truth | None = None) -> CheckResult:
    """Every discrepancy in the snapshot (and against the truth, when one is given)."""
    found = [
        *_drive(snapshot),
        *_catalog(snapshot),
        *_budgets(snapshot),
        *(_acknowledged(snapshot, truth) if truth is not None else ()),
        *(_stats(snapshot, truth) if truth is not None else ()),
        *_cluster(snapshot),
    ]
    return CheckResult(tuple(found), snapshot.sizes())


def _drive(snapshot: Snapshot) -> Iterator[Discrepancy]:
    held = {account: {f.id: f.size for f in files} for account, files in snapshot.drive.items()}
    names = {f.id: f.name for files in snapshot.drive.values() for f in files}
    referenced: set[tuple[str, str]] = set()
    for file in snapshot.uploader_files:
        subject = f"file:{file.id}"
        if file.status not in SETTLED:
            yield Discrepancy(Kind.UNSETTLED_FILE, subject, f"status {file.status}")
        intact = 0
        for replica in file.replicas:
            if replica.drive_file_id is not None:
                referenced.add((replica.account_id, replica.drive_file_id))
            if replica.state != ReplicaState.READY.value:
                continue
            size = held.get(replica.account_id, {}).get(replica.drive_file_id or "")
            if size == file.size:
                intact += 1
                continue
            state = "absent" if size is None else f"{size} bytes, not {file.size}"
            yield Discrepancy(
                Kind.MISSING_DRIVE_FILE,
                subject,
                f"ready replica on account {replica.account_id}: Drive file "
                f"{replica.drive_file_id} {state}",
            )
        if file.status == FileStatus.UPLOADED.value and intact == 0:
            yield Discrepancy(Kind.LOST_FILE, subject, "uploaded, but no intact copy on Drive")
    for account, files in sorted(held.items()):
        for drive_id in sorted(files):
            if (account, drive_id) not in referenced:
                yield Discrepancy(
                    Kind.ORPHAN_DRIVE_FILE,
                    f"drive:{account}/{drive_id}",
                    f"{names[drive_id]!r} on Drive, but no replica of a live file refers to it",
                )


def _catalog(snapshot: Snapshot) -> Iterator[Discrepancy]:
    uploader = {a.id: a for a in snapshot.uploader_accounts}
    catalog = {a.id: a for a in snapshot.catalog_accounts}
    for account_id in sorted(uploader.keys() | catalog.keys()):
        mine, theirs = uploader.get(account_id), catalog.get(account_id)
        if mine != theirs:
            yield Discrepancy(
                Kind.CATALOG_ACCOUNT,
                f"account:{account_id}",
                f"Uploader {_describe(mine)}, Downloader {_describe(theirs)}",
            )
    files = {f.id: f for f in snapshot.uploader_files}
    known = {f.id: f for f in snapshot.catalog_files}
    for file_id in sorted(files.keys() | known.keys()):
        yield from _catalog_file(file_id, files.get(file_id), known.get(file_id))


def _catalog_file(
    file_id: str, mine: FileView | None, theirs: FileView | None
) -> Iterator[Discrepancy]:
    subject = f"file:{file_id}"
    if mine is None or theirs is None:
        where = "the Downloader only" if mine is None else "the Uploader only"
        yield Discrepancy(Kind.CATALOG_FILE, subject, f"live in {where}")
        return
    if (mine.status, mine.size) != (theirs.status, theirs.size):
        yield Discrepancy(
            Kind.CATALOG_FILE,
            subject,
            f"Uploader {mine.status} ({mine.size} B), Downloader {theirs.status} ({theirs.size} B)",
        )
    ours = {r.account_id: r for r in mine.replicas}
    seen = {r.account_id: r for r in theirs.replicas}
    for account_id in sorted(ours.keys() | seen.keys()):
        left, right = ours.get(account_id), seen.get(account_id)
        if left != right:
            yield Discrepancy(
                Kind.CATALOG_REPLICA,
                subject,
                f"account {account_id}: Uploader {_replica(left)}, Downloader {_replica(right)}",
            )


def _cluster(snapshot: Snapshot) -> Iterator[Discrepancy]:
    cluster = snapshot.cluster
    if cluster is None:
        return
    resources: dict[str, list[FileReplicaView]] = {}
    for resource in cluster.file_replicas:
        resources.setdefault(resource.file_id, []).append(resource)
    files = {file.id: file for file in snapshot.uploader_files}
    for file in files.values():
        subject = f"file:{file.id}"
        found = resources.get(file.id, [])
        if len(found) != 1:
            names = ", ".join(sorted(r.name for r in found)) or "none"
            yield Discrepancy(Kind.CLUSTER_FILE, subject, f"FileReplicas: {names} (not one)")
            continue
        resource = found[0]
        if file.status in SETTLED and (
            resource.phase != "Ready" or resource.ready_replicas != resource.desired_replicas
        ):
            yield Discrepancy(
                Kind.CLUSTER_FILE,
                subject,
                f"uploaded, but FileReplica {resource.name} is {resource.phase} with "
                f"{resource.ready_replicas}/{resource.desired_replicas} replicas ready",
            )
    for file_id, found in sorted(resources.items()):
        if file_id not in files:
            for resource in found:
                if not resource.deleting:
                    yield Discrepancy(
                        Kind.CLUSTER_FILE,
                        f"file:{file_id}",
                        f"FileReplica {resource.name} for a file the Uploader does not have",
                    )
    accounts = {account.id for account in snapshot.uploader_accounts}
    for account in cluster.drive_accounts:
        if not account.enabled or account.deleting:
            continue
        subject = f"driveaccount:{account.name}"
        if account.ready != "True":
            yield Discrepancy(
                Kind.CLUSTER_ACCOUNT, subject, f"Ready is {account.ready} ({account.reason})"
            )
        elif account.uploader_account_id not in accounts:
            yield Discrepancy(
                Kind.CLUSTER_ACCOUNT,
                subject,
                f"Ready, but its Uploader account {account.uploader_account_id} does not exist",
            )


def _budgets(snapshot: Snapshot) -> Iterator[Discrepancy]:
    for account_id, usage in sorted(snapshot.report_accounts.items()):
        if usage.issued_today > usage.daily_budget_bytes:
            yield Discrepancy(
                Kind.OVER_BUDGET,
                f"account:{account_id}",
                f"{usage.issued_today} bytes issued today, budget {usage.daily_budget_bytes}",
            )


def _acknowledged(snapshot: Snapshot, truth: Truth) -> Iterator[Discrepancy]:
    """What clients were told: an accepted upload stays, an accepted deletion happens."""
    live = {f.id: f.status for f in snapshot.uploader_files}
    for file_id in sorted(truth.kept - live.keys()):
        yield Discrepancy(Kind.LOST_FILE, f"file:{file_id}", "upload acknowledged, file gone")
    for file_id in sorted(truth.deleted & live.keys()):
        if live[file_id] != FileStatus.DELETING.value:  # that one is reported unsettled
            yield Discrepancy(
                Kind.UNSETTLED_FILE,
                f"file:{file_id}",
                f"deletion acknowledged, yet {live[file_id]}",
            )


def _stats(snapshot: Snapshot, truth: Truth) -> Iterator[Discrepancy]:
    """Figures within [received, received + unsure], per live file and per account."""
    live = {f.id for f in snapshot.uploader_files}
    for file_id in sorted(live | snapshot.report_files.keys()):
        expected = truth.files.get(file_id, Figures())
        reported = snapshot.report_files.get(file_id)
        if reported is None:
            if expected != Figures():
                yield Discrepancy(Kind.STATS, f"file:{file_id}", "missing from the report")
            continue
        slack = truth.unsure.get(file_id, Figures())
        yield from _within(f"file:{file_id}", reported, expected, slack)
    slack = sum(truth.unsure.values(), Figures())
    for account_id in sorted(truth.accounts.keys() | snapshot.report_accounts.keys()):
        usage = snapshot.report_accounts.get(account_id)
        reported = usage.totals if usage is not None else Figures()
        expected = truth.accounts.get(account_id, Figures())
        yield from _within(f"account:{account_id}", reported, expected, slack)


def _within(
    subject: str, reported: Figures, expected: Figures, slack: Figures
) -> Iterator[Discrepancy]:
    ceiling = expected + slack
    if not (
        expected.downloads <= reported.downloads <= ceiling.downloads
        and expected.bytes <= reported.bytes <= ceiling.bytes
    ):
        margin = f" (+ up to {slack.downloads} unsure)" if slack.downloads else ""
        yield Discrepancy(
            Kind.STATS,
            subject,
            f"reported {reported.downloads} URLs / {reported.bytes} B, received "
            f"{expected.downloads} / {expected.bytes} B{margin}",
        )


def _describe(account: AccountView | None) -> str:
    if account is None:
        return "absent"
    state = "enabled" if account.enabled else "disabled"
    return f"{account.email} budget {account.daily_budget_bytes} {state}"


def _replica(replica: Replica | None) -> str:
    return "none" if replica is None else f"{replica.state} ({replica.drive_file_id})"
