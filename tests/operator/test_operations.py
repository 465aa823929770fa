"""Operating the operator: a kill mid-reconcile converges, peering keeps one active replica,
and its ServiceAccount can do what it needs and nothing more."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import httpx
import pytest

from tests.utils.drive import EmulatorAdmin
from tests.utils.operator import SERVICE_ACCOUNT, Cluster, add_account, wait_ready
from tests.utils.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


async def test_killed_mid_reconcile_converges_without_duplicates(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    first = cluster.operator()
    names = [unique("acct") for _ in range(3)]
    await add_account(cluster, emulator, names[0])
    await wait_ready(cluster, names[0])
    upload = await uploader.post(
        "/files", params={"name": unique("file")}, content=os.urandom(64 * 1024)
    )
    assert upload.status_code == 202
    file_id = upload.json()["id"]
    for name in names[1:]:
        await add_account(cluster, emulator, name)

    # Kill it while it works through the new accounts (registering, checking, backfilling).
    async def busy() -> None:
        assert names[1] in first.log() or names[2] in first.log()

    await eventually(busy, within=60)
    first.kill()
    cluster.operator()
    for name in names:
        await wait_ready(cluster, name)

    async def converged() -> None:
        accounts = (await uploader.get("/accounts")).json()["items"]
        assert sorted(a["email"] for a in accounts) == sorted(
            (cluster.get("driveaccount", n) or {})["spec"]["email"] for n in names
        )
        file = (await uploader.get(f"/files/{file_id}")).json()
        assert file["status"] == "uploaded", file
        assert sorted(r["account_id"] for r in file["replicas"]) == sorted(
            a["id"] for a in accounts
        )
        assert len(cluster.items("filereplicas")) == 1

    await eventually(converged, within=120)
    # No duplicate copy on Drive either: each account stores the file's bytes exactly once.
    emails = {(cluster.get("driveaccount", n) or {})["spec"]["email"] for n in names}
    views = (await emulator.http.get("/_emulator/accounts")).json()
    assert [v["usage"]["stored_bytes"] for v in views if v["email"] in emails] == [64 * 1024] * 3


async def test_two_replicas_with_peering_only_one_acts(
    peered_cluster: Cluster, emulator: EmulatorAdmin, unique: Callable[[str], str]
) -> None:
    cluster = peered_cluster
    low = cluster.operator(peering="fileserver", priority="10", peering_lifetime_seconds="10")
    high = cluster.operator(peering="fileserver", priority="20", peering_lifetime_seconds="10")

    async def both_peers_known() -> None:
        out = cluster.kubectl(
            "get", "kopfpeering", "fileserver", f"--namespace={cluster.namespace}", "-o", "json"
        )
        assert len(json.loads(out).get("status") or {}) == 2
        # kopf logs the pause as a switch ("in favour of") or, when it starts paused, as
        # watch-streams held by the peering blocker.
        assert (
            "Pausing operations in favour of" in low.log() or "(blockers: fileserver@" in low.log()
        )

    await eventually(both_peers_known, within=60)
    first = unique("acct")
    await add_account(cluster, emulator, first)
    await wait_ready(cluster, first)
    assert "Handler 'driveaccount_reconcile" in high.log()
    assert "Handler 'driveaccount_reconcile" not in low.log()

    # The active replica dies without a goodbye: the other takes over once it counts it dead.
    high.kill()
    second = unique("acct")
    await add_account(cluster, emulator, second)
    await wait_ready(cluster, second, within=120)
    assert "Handler 'driveaccount_reconcile" in low.log()


def _can(cluster: Cluster, *args: str, namespace: str | None = None) -> bool:
    sa = f"system:serviceaccount:{cluster.namespace}:{SERVICE_ACCOUNT}"
    out = cluster.kubectl(
        "auth", "can-i", *args, f"--namespace={namespace or cluster.namespace}", f"--as={sa}",
        check=False,
    )  # fmt: skip
    return out.strip().splitlines()[0] == "yes"


def test_the_service_account_is_refused_anything_outside_its_role(cluster: Cluster) -> None:
    # Every other test runs the operator with this account's token: the Role is enough.
    allowed = [
        ("patch", "driveaccounts.fileserver.io", "--subresource=status"),
        ("create", "filereplicas.fileserver.io"),
        ("patch", "deployments.apps/fs-fileserver-downloader", "--subresource=scale"),
        ("patch", "deployments.apps/fs-fileserver-uploader-worker", "--subresource=scale"),
    ]
    denied = [
        ("create", "driveaccounts.fileserver.io"),
        ("delete", "driveaccounts.fileserver.io"),
        # No Secret of the namespace: not the release's (tokens, Fernet key), not Helm's.
        ("get", "secrets"),
        ("get", "secrets/sh.helm.release.v1.fs.v1"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("update", "secrets"),
        ("delete", "secrets"),
        ("create", "deployments.apps"),
        ("patch", "deployments.apps/some-other-app"),
        ("delete", "pods"),
        ("list", "namespaces"),
        ("list", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ]
    assert [a for a in allowed if not _can(cluster, *a)] == []
    assert [d for d in denied if _can(cluster, *d)] == []
    assert not _can(cluster, "get", "secrets", namespace="default")
    # In the credentials namespace: get a Secret by name, nothing more.
    credentials = cluster.credentials_namespace
    assert _can(cluster, "get", "secrets/any-account", namespace=credentials)
    for verb in ("list", "watch", "create", "update", "delete"):
        assert not _can(cluster, verb, "secrets", namespace=credentials), verb
    assert not _can(cluster, "list", "driveaccounts.fileserver.io", namespace="default")
