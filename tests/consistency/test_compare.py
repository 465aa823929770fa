"""Every rule of the comparison on hand-made snapshots: one healthy system, then one fault
at a time, each reported once and by its own kind."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fileserver.consistency.compare import compare
from fileserver.consistency.model import (
    AccountUsage,
    AccountView,
    ClusterView,
    DriveAccountView,
    DriveFile,
    Figures,
    FileReplicaView,
    FileView,
    Kind,
    Replica,
    Snapshot,
    Truth,
)

pytestmark = pytest.mark.unit

A = AccountView("a", "a@x.org", 1000, True)
B = AccountView("b", "b@x.org", 1000, True)
F = FileView("f1", "uploaded", 10, (Replica("a", "ready", "da"), Replica("b", "ready", "db")))
HEALTHY = Snapshot(
    uploader_accounts=(A, B),
    uploader_files=(F,),
    drive={"a": (DriveFile("da", 10),), "b": (DriveFile("db", 10),)},
    catalog_accounts=(A, B),
    catalog_files=(F,),
    report_files={"f1": Figures(3, 30)},
    report_accounts={
        "a": AccountUsage(Figures(2, 20), 20, 1000),
        "b": AccountUsage(Figures(1, 10), 10, 1000),
    },
)
TRUTH = Truth(files={"f1": Figures(3, 30)}, accounts={"a": Figures(2, 20), "b": Figures(1, 10)})


def kinds(snapshot: Snapshot, truth: Truth | None = TRUTH) -> list[Kind]:
    return [d.kind for d in compare(snapshot, truth).discrepancies]


def test_a_healthy_system_is_consistent() -> None:
    result = compare(HEALTHY, TRUTH)
    assert result.consistent
    assert result.sizes == {"accounts": 2, "files": 1, "drive_files": 2, "catalog_files": 1}


def test_a_file_no_account_holds_is_lost() -> None:
    found = compare(dataclasses.replace(HEALTHY, drive={"a": (), "b": ()}), TRUTH)
    assert [d.kind for d in found.discrepancies] == [
        Kind.MISSING_DRIVE_FILE,
        Kind.MISSING_DRIVE_FILE,
        Kind.LOST_FILE,
    ]
    assert found.discrepancies[-1].subject == "file:f1"


def test_one_missing_or_truncated_copy_is_not_a_lost_file() -> None:
    truncated = {"a": (DriveFile("da", 4),), "b": (DriveFile("db", 10),)}
    found = compare(dataclasses.replace(HEALTHY, drive=truncated), TRUTH).discrepancies
    assert [d.kind for d in found] == [Kind.MISSING_DRIVE_FILE]
    assert "4 bytes, not 10" in found[0].detail


def test_a_drive_file_no_replica_refers_to_is_an_orphan() -> None:
    extra = {
        "a": (DriveFile("da", 10), DriveFile("stray", 5, "x.bin")),
        "b": (DriveFile("db", 10),),
    }
    found = compare(dataclasses.replace(HEALTHY, drive=extra), TRUTH).discrepancies
    assert [(d.kind, d.subject) for d in found] == [(Kind.ORPHAN_DRIVE_FILE, "drive:a/stray")]
    assert found[0].detail.startswith("'x.bin' on Drive")


def test_a_removing_replica_still_owns_its_drive_file_but_the_file_is_unsettled() -> None:
    deleting = dataclasses.replace(
        F, status="deleting", replicas=(Replica("a", "removing", "da"), Replica("b", "ready", "db"))
    )
    snapshot = dataclasses.replace(HEALTHY, uploader_files=(deleting,), catalog_files=(deleting,))
    assert kinds(snapshot) == [Kind.UNSETTLED_FILE]


def test_a_file_known_to_one_side_only() -> None:
    assert kinds(dataclasses.replace(HEALTHY, catalog_files=())) == [Kind.CATALOG_FILE]
    ghost = FileView("f2", "uploaded", 1)
    found = compare(dataclasses.replace(HEALTHY, catalog_files=(F, ghost)), TRUTH).discrepancies
    assert [(d.kind, d.subject, d.detail) for d in found] == [
        (Kind.CATALOG_FILE, "file:f2", "live in the Downloader only")
    ]


def test_a_replica_known_to_one_side_or_in_another_state() -> None:
    stale = dataclasses.replace(F, replicas=(Replica("a", "pending", None),))
    found = compare(dataclasses.replace(HEALTHY, catalog_files=(stale,)), TRUTH).discrepancies
    assert [d.kind for d in found] == [Kind.CATALOG_REPLICA, Kind.CATALOG_REPLICA]
    assert "account a: Uploader ready (da), Downloader pending (None)" in found[0].detail
    assert "account b: Uploader ready (db), Downloader none" in found[1].detail


def test_an_account_whose_budget_differs() -> None:
    poorer = dataclasses.replace(B, daily_budget_bytes=1)
    found = compare(dataclasses.replace(HEALTHY, catalog_accounts=(A, poorer)), TRUTH)
    assert [(d.kind, d.subject) for d in found.discrepancies] == [
        (Kind.CATALOG_ACCOUNT, "account:b")
    ]


def test_issuing_beyond_the_budget() -> None:
    over = dict(HEALTHY.report_accounts) | {"b": AccountUsage(Figures(1, 10), 1001, 1000)}
    assert kinds(dataclasses.replace(HEALTHY, report_accounts=over)) == [Kind.OVER_BUDGET]


def test_statistics_must_equal_the_urls_received() -> None:
    fewer = Truth(files={"f1": Figures(4, 40)}, accounts=TRUTH.accounts)
    found = compare(HEALTHY, fewer).discrepancies
    assert [(d.kind, d.subject) for d in found] == [(Kind.STATS, "file:f1")]
    assert kinds(HEALTHY, truth=None) == []


def test_unsure_requests_allow_that_much_more_never_less() -> None:
    lost_answer = Truth(
        files={"f1": Figures(2, 20)},
        accounts={"a": Figures(1, 10), "b": Figures(1, 10)},
        unsure={"f1": Figures(1, 10)},
    )
    assert kinds(HEALTHY, lost_answer) == []
    too_many = dataclasses.replace(lost_answer, unsure={})
    assert kinds(HEALTHY, too_many) == [Kind.STATS, Kind.STATS]


def test_what_clients_were_told_must_hold() -> None:
    promised = dataclasses.replace(TRUTH, kept=frozenset({"f1", "f9"}), deleted=frozenset({"f1"}))
    found = compare(HEALTHY, promised).discrepancies
    assert [(d.kind, d.subject, d.detail) for d in found] == [
        (Kind.LOST_FILE, "file:f9", "upload acknowledged, file gone"),
        (Kind.UNSETTLED_FILE, "file:f1", "deletion acknowledged, yet uploaded"),
    ]


def test_truth_round_trips_through_json() -> None:
    promised = dataclasses.replace(TRUTH, kept=frozenset({"f1"}), deleted=frozenset({"f0"}))
    assert Truth.from_json(promised.to_json()) == promised


# --- cluster mode ------------------------------------------------------------------------------

RF = FileReplicaView("file-f1", "f1", "Ready", 2, 2)
DA = DriveAccountView("da", "a@x.org", True, "True", "Synced", "a")
DB = DriveAccountView("db", "b@x.org", True, "True", "Synced", "b")
CLUSTER = ClusterView((RF,), (DA, DB))


def clustered(**changes: Any) -> Snapshot:
    return dataclasses.replace(HEALTHY, cluster=dataclasses.replace(CLUSTER, **changes))


def test_a_healthy_cluster_is_consistent() -> None:
    result = compare(clustered(), TRUTH)
    assert result.consistent
    assert result.sizes["file_replicas"] == 1
    assert result.sizes["drive_accounts"] == 2


def test_a_file_needs_exactly_one_file_replica() -> None:
    missing = compare(clustered(file_replicas=()), TRUTH).discrepancies
    assert [(d.kind, d.subject) for d in missing] == [(Kind.CLUSTER_FILE, "file:f1")]
    twice = clustered(file_replicas=(RF, dataclasses.replace(RF, name="other")))
    assert kinds(twice) == [Kind.CLUSTER_FILE]


def test_an_uploaded_file_needs_a_ready_file_replica_with_every_replica() -> None:
    assert kinds(clustered(file_replicas=(dataclasses.replace(RF, phase="Degraded"),))) == [
        Kind.CLUSTER_FILE
    ]
    short = dataclasses.replace(RF, ready_replicas=1)
    found = compare(clustered(file_replicas=(short,)), TRUTH).discrepancies
    assert "1/2 replicas ready" in found[0].detail


def test_a_file_replica_without_its_file_is_reported_unless_it_is_being_deleted() -> None:
    stray = FileReplicaView("file-gone", "gone", "Ready", 1, 1)
    assert kinds(clustered(file_replicas=(RF, stray))) == [Kind.CLUSTER_FILE]
    leaving = dataclasses.replace(stray, deleting=True)
    assert kinds(clustered(file_replicas=(RF, leaving))) == []


def test_an_enabled_drive_account_must_be_ready_and_known_to_the_uploader() -> None:
    failing = dataclasses.replace(DB, ready="False", reason="CredentialsInvalid")
    found = compare(clustered(drive_accounts=(DA, failing)), TRUTH).discrepancies
    assert [(d.kind, d.subject) for d in found] == [(Kind.CLUSTER_ACCOUNT, "driveaccount:db")]
    assert "CredentialsInvalid" in found[0].detail
    unknown = dataclasses.replace(DB, uploader_account_id="zz")
    assert kinds(clustered(drive_accounts=(DA, unknown))) == [Kind.CLUSTER_ACCOUNT]
    disabled = dataclasses.replace(failing, enabled=False)
    assert kinds(clustered(drive_accounts=(DA, disabled))) == []
