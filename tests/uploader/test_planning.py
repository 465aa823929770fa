"""The replication plan, a pure function: placement, seeding, completion, removal, failure."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from services.shared.events import FileStatus, ReplicaState
from services.uploader.models import Account, AccountHealth, Replica, StoredFile
from services.uploader.placement import DefaultPlacement
from services.uploader.replication import plan_file

pytestmark = pytest.mark.unit


# Beanie documents refuse to be built before the database is bound; model_construct skips that
# (the plan never touches the database).


def account(account_id: str, **fields: Any) -> Account:
    return Account.model_construct(
        id=account_id,
        email=f"{account_id}@example.com",
        credentials_kind="authorized_user",
        credentials="sealed",
        daily_budget_bytes=1,
        **fields,
    )


def pool(*ids: str, **fields: Any) -> dict[str, Account]:
    return {i: account(i, **fields) for i in ids}


def replica(account_id: str, state: ReplicaState, **fields: Any) -> Replica:
    drive_id = f"d-{account_id}" if state in (ReplicaState.READY, ReplicaState.REMOVING) else None
    return Replica(account_id=account_id, state=state, drive_file_id=drive_id, **fields)


def file(*replicas: Replica, **fields: Any) -> StoredFile:
    values: dict[str, Any] = {
        "id": "f1",
        "name": "a.bin",
        "size": 10,
        "content_type": "application/octet-stream",
        "staging_id": ObjectId(),
        "seq": 5,
        "replicas": {r.account_id: r for r in replicas},
    }
    values.update(fields)
    return StoredFile.model_construct(**values)


PLACEMENT = DefaultPlacement()


def test_new_file_targets_every_enabled_account_and_seeds_one_upload() -> None:
    accounts = pool("a", "b", "c")
    accounts["c"].enabled = False
    plan = plan_file(file(), accounts, PLACEMENT)
    assert set(plan.set_) == {"replicas.a", "replicas.b"}
    assert plan.replicate == ["a"]  # one upload from GridFS; the rest will be copies
    assert not plan.drop_staging


def test_with_a_ready_copy_the_others_are_copied_at_once() -> None:
    f = file(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.PENDING),
        replica("c", ReplicaState.PENDING),
    )
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert plan.replicate == ["b", "c"]
    assert "status" not in plan.set_


def test_all_ready_means_uploaded_and_staging_dropped() -> None:
    f = file(replica("a", ReplicaState.READY), replica("b", ReplicaState.READY))
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert plan.set_["status"] == FileStatus.UPLOADED.value
    assert plan.set_["failure_reason"] is None
    assert plan.drop_staging


def test_quota_skipped_account_is_left_out_and_reported() -> None:
    f = file(
        replica("a", ReplicaState.FAILED, error="storageQuotaExceeded", skip=True),
        replica("b", ReplicaState.READY),
    )
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert plan.set_["status"] == FileStatus.UPLOADED.value
    assert "replicas.a" not in plan.unset  # the failure stays visible


def test_every_account_skipped_fails_the_file_with_the_reasons() -> None:
    f = file(replica("a", ReplicaState.FAILED, error="storageQuotaExceeded", skip=True))
    plan = plan_file(f, pool("a"), PLACEMENT)
    assert plan.set_["status"] == FileStatus.FAILED.value
    assert plan.set_["failure_reason"] == ("no account can take the file (a: storageQuotaExceeded)")
    assert not plan.drop_staging  # bytes kept for a retry


def test_an_exhausted_replica_fails_the_file() -> None:
    f = file(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.FAILED, error="gave up after 8 attempts: 503"),
    )
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert plan.set_["status"] == FileStatus.FAILED.value
    assert plan.set_["failure_reason"] == "b: gave up after 8 attempts: 503"


def test_auth_failed_account_gets_no_new_replica() -> None:
    accounts = pool("a", "b")
    accounts["b"].health = AccountHealth.AUTH_FAILED
    plan = plan_file(file(), accounts, PLACEMENT)
    assert set(plan.set_) == {"replicas.a"}


def test_draining_account_replica_leaves_the_downloader_first() -> None:
    accounts = pool("a", "b")
    accounts["b"].draining = True
    f = file(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.READY),
        status=FileStatus.UPLOADED,
        staging_id=None,
    )
    plan = plan_file(f, accounts, PLACEMENT)
    assert plan.set_["replicas.b.state"] == ReplicaState.REMOVING.value
    assert plan.set_["replicas.b.removing_seq"] == 6  # the seq of this very write
    assert plan.remove == []  # not before the Downloader acknowledged seq 6


def test_removal_goes_once_the_downloader_acknowledged() -> None:
    waiting = file(replica("a", ReplicaState.REMOVING, removing_seq=6), acked_seq=5)
    assert plan_file(waiting, pool("a"), PLACEMENT).remove == []
    acked = file(replica("a", ReplicaState.REMOVING, removing_seq=6), acked_seq=6)
    assert plan_file(acked, pool("a"), PLACEMENT).remove == ["a"]


def test_deleting_file_with_nothing_left_becomes_a_tombstone() -> None:
    f = file(status=FileStatus.DELETING)
    plan = plan_file(f, pool("a"), PLACEMENT)
    assert plan.set_ == {"deleted": True}
    assert plan.drop_staging


def test_deleting_file_takes_replicas_out_and_drops_untried_ones() -> None:
    f = file(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.PENDING),
        replica("c", ReplicaState.PENDING, attempts=1),
        status=FileStatus.DELETING,
    )
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert plan.set_["replicas.a.state"] == ReplicaState.REMOVING.value
    assert plan.set_["replicas.c.state"] == ReplicaState.REMOVING.value  # may exist on Drive
    assert plan.unset == ["replicas.b"]  # never tried: nothing on Drive
    assert "deleted" not in plan.set_


def test_desired_replicas_keeps_existing_copies_first() -> None:
    f = file(replica("c", ReplicaState.READY), desired_replicas=2)
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert set(plan.set_) == {"replicas.a"}
    assert plan.replicate == ["a"]


def test_no_new_replica_goes_where_it_does_not_fit_and_the_roomiest_come_first() -> None:
    accounts = {
        "a": account("a", storage_limit_bytes=25),
        "b": account("b", storage_limit_bytes=100),
        "c": account("c", storage_limit_bytes=50, drive_storage_limit_bytes=30),
        "d": account("d"),  # no limit
    }
    stored = {"a": 20, "b": 10, "c": 0}
    everywhere = plan_file(file(), accounts, PLACEMENT, stored)
    assert everywhere.replicate == ["b"]  # one upload first...
    assert {k for k in everywhere.set_ if k.count(".") == 1} == {
        "replicas.b", "replicas.c", "replicas.d",
    }  # fmt: skip  # ...to every account with room: a has 5 bytes left, the file is 10
    two = plan_file(file(desired_replicas=2), accounts, PLACEMENT, stored)
    assert {k for k in two.set_ if k.count(".") == 1} == {"replicas.d", "replicas.b"}
    # Drive's limit (30) is below the declared one (50): the lower one counts.
    assert accounts["c"].storage_room == 30
    full = {"a": 25, "b": 95, "c": 25}
    held = file(replica("a", ReplicaState.READY), status=FileStatus.UPLOADED, desired_replicas=2)
    kept = plan_file(held, {k: accounts[k] for k in "abc"}, PLACEMENT, full)
    assert "replicas.a.state" not in kept.set_  # a full account keeps what it holds
    assert kept.replicate == []  # and nobody else has room for a second copy


def test_fewer_desired_replicas_remove_the_extra_ones() -> None:
    f = file(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.READY),
        status=FileStatus.UPLOADED,
        desired_replicas=1,
        staging_id=None,
    )
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert plan.set_ == {
        "replicas.b.state": ReplicaState.REMOVING.value,
        "replicas.b.removing_seq": 6,
        "replicas.b.updated_at": plan.set_["replicas.b.updated_at"],
    }


def test_no_source_left_fails_instead_of_waiting_forever() -> None:
    f = file(replica("a", ReplicaState.PENDING), staging_id=None)
    plan = plan_file(f, pool("a"), PLACEMENT)
    assert plan.set_["status"] == FileStatus.FAILED.value
    assert "no staged bytes" in plan.set_["failure_reason"]


def test_a_settled_file_plans_no_write() -> None:
    f = file(replica("a", ReplicaState.READY), status=FileStatus.UPLOADED, staging_id=None)
    plan = plan_file(f, pool("a"), PLACEMENT)
    assert not plan.writes
    assert plan.replicate == []
    assert plan.remove == []


# Backfill: an uploaded file below its placement gets copies and stays uploaded.


def uploaded(*replicas: Replica, **fields: Any) -> StoredFile:
    return file(*replicas, status=FileStatus.UPLOADED, staging_id=None, **fields)


def test_new_account_gets_a_copy_of_an_uploaded_file_which_stays_uploaded() -> None:
    f = uploaded(replica("a", ReplicaState.READY), replica("b", ReplicaState.READY))
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert set(plan.set_) == {"replicas.c"}  # no status change: still downloadable
    assert plan.set_["replicas.c"]["state"] == ReplicaState.PENDING.value
    assert plan.replicate == ["c"]
    assert plan.remove == []


def test_a_raised_count_adds_copies_without_leaving_uploaded() -> None:
    f = uploaded(replica("a", ReplicaState.READY), desired_replicas=3)
    plan = plan_file(f, pool("a", "b", "c", "d"), PLACEMENT)
    assert set(plan.set_) == {"replicas.b", "replicas.c"}
    assert plan.replicate == ["b", "c"]


def test_a_pending_backfill_copy_is_asked_for_again_until_ready() -> None:
    f = uploaded(replica("a", ReplicaState.READY), replica("b", ReplicaState.PENDING))
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert not plan.writes
    assert plan.replicate == ["b"]  # the job id dedups it if it is queued already


def test_a_met_count_plans_nothing_for_a_new_account() -> None:
    f = uploaded(
        replica("a", ReplicaState.READY), replica("b", ReplicaState.READY), desired_replicas=2
    )
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert not plan.writes
    assert plan.replicate == []


def test_a_failed_backfill_copy_never_fails_the_uploaded_file() -> None:
    f = uploaded(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.FAILED, error="gave up after 8 attempts: 503"),
    )
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert not plan.writes
    assert plan.replicate == []


def test_backfill_skips_an_account_that_refused_the_file() -> None:
    f = uploaded(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.FAILED, error="storageQuotaExceeded", skip=True),
    )
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert set(plan.set_) == {"replicas.c"}
    assert plan.replicate == ["c"]


def test_no_ready_copy_left_means_nothing_to_backfill_from() -> None:
    f = uploaded(replica("a", ReplicaState.FAILED, error="x"))
    plan = plan_file(f, pool("a", "b"), PLACEMENT)
    assert not plan.writes
    assert plan.replicate == []


def test_copies_on_accounts_that_take_no_new_ones_are_kept() -> None:
    accounts = pool("a", "b", "c")
    accounts["b"].enabled = False
    accounts["c"].health = AccountHealth.AUTH_FAILED
    f = uploaded(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.READY),
        replica("c", ReplicaState.READY),
    )
    plan = plan_file(f, accounts, PLACEMENT)
    assert not plan.writes  # their links still serve; only draining takes them away
    assert plan.remove == []


def test_a_lowered_count_removes_only_what_is_beyond_it() -> None:
    f = uploaded(
        replica("a", ReplicaState.READY),
        replica("b", ReplicaState.READY),
        replica("c", ReplicaState.READY),
        desired_replicas=2,
    )
    plan = plan_file(f, pool("a", "b", "c"), PLACEMENT)
    assert plan.set_["replicas.c.state"] == ReplicaState.REMOVING.value
    assert not any(key.startswith(("replicas.a", "replicas.b")) for key in plan.set_)
    assert "status" not in plan.set_
