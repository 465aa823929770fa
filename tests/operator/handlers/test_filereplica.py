"""FileReplica and DriveAccount deletion against the real API server and services."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fileserver_operator.builders.replicas import resource_name

from tests.utils.drive import EmulatorAdmin
from tests.utils.operator import Cluster, add_account, conditions, wait_ready
from tests.utils.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

SIZE = 256 * 1024


async def upload(uploader: httpx.AsyncClient, name: str) -> dict[str, Any]:
    answer = await uploader.post(
        "/files", params={"name": name}, content=os.urandom(SIZE),
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    file: dict[str, Any] = answer.json()
    return file


async def stored(emulator: EmulatorAdmin, account_id: str) -> int:
    return int((await emulator.account(account_id))["usage"]["stored_bytes"])


async def watch_phases(cluster: Cluster, name: str, seen: list[str], stop: asyncio.Event) -> None:
    """Record every distinct phase the resource shows, in order."""
    while not stop.is_set():
        obj = cluster.get("filereplica", name)
        phase = ((obj or {}).get("status") or {}).get("phase")
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
        await asyncio.sleep(0.1)


async def test_a_file_is_mirrored_backfilled_placed_and_deleted(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    cluster.operator()
    names = [unique("acct") for _ in range(2)]
    accounts = [await add_account(cluster, emulator, n) for n in names]
    for n in names:
        await wait_ready(cluster, n)

    file = await upload(uploader, unique("file") + ".bin")
    replica = resource_name(file["id"])
    seen: list[str] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_phases(cluster, replica, seen, stop))

    def status() -> dict[str, Any]:
        return ((cluster.get("filereplica", replica) or {}).get("status")) or {}

    async def ready_on(count: int) -> None:
        got = status()
        assert (got.get("phase"), got.get("readyReplicas")) == ("Ready", count), got

    await eventually(lambda: ready_on(2), within=90)
    stop.set()
    await watcher
    if not seen or seen[-1] != "Ready":  # ready_on saw it; the watcher stopped between polls
        seen.append("Ready")
    # Phases only move forward: Pending → Replicating → Ready (a sync may skip a short one).
    order = ["Pending", "Replicating", "Ready"]
    assert seen == sorted(seen, key=order.index), seen
    obj = cluster.get("filereplica", replica)
    assert obj is not None
    assert obj["spec"]["fileId"] == file["id"]
    assert obj["spec"]["size"] == SIZE
    assert sorted(r["account"] for r in obj["status"]["replicas"]) == sorted(names)
    assert conditions(obj)["Ready"] == ("True", "Replicated")
    # Born with kopf's finalizer and record of what it handled: kopf never patched them on.
    assert obj["metadata"]["finalizers"] == ["fileserver.io/finalizer"]
    assert "kopf.zalando.org/last-handled-configuration" in obj["metadata"]["annotations"]
    shown = cluster.kubectl(
        "get", "filereplica", replica, f"--namespace={cluster.namespace}",
        "--show-managed-fields", "-o", "json",
    )  # fmt: skip
    managed = json.loads(shown)["metadata"]["managedFields"]
    metadata_writers = {m["manager"] for m in managed if "f:metadata" in m["fieldsV1"]}
    assert len(metadata_writers) == 1, managed

    # A new account receives the existing file (backfill by server-side copy).
    third = unique("acct")
    accounts.append(await add_account(cluster, emulator, third))
    await wait_ready(cluster, third)
    await eventually(lambda: ready_on(3), within=90)
    assert await stored(emulator, accounts[2].id) == SIZE

    # People edit the placement; the Uploader removes the extra replica from Drive.
    cluster.kubectl(
        "patch", "filereplica", replica, f"--namespace={cluster.namespace}", "--type=merge",
        "-p", '{"spec":{"placement":{"mode":"Count","replicas":2}}}',
    )  # fmt: skip

    async def placed_on_two() -> None:
        await ready_on(2)
        assert status()["desiredReplicas"] == 2
        holding = [a for a in accounts if await stored(emulator, a.id) == SIZE]
        assert len(holding) == 2

    await eventually(placed_on_two, within=90)
    assert (
        status()["observedGeneration"]
        == (cluster.get("filereplica", replica) or {})["metadata"]["generation"]
    )

    # Deleting the resource deletes the file everywhere.
    cluster.kubectl("delete", "filereplica", replica, f"--namespace={cluster.namespace}")
    assert (await uploader.get(f"/files/{file['id']}")).status_code == 404
    assert [await stored(emulator, a.id) for a in accounts] == [0, 0, 0]


async def test_a_file_deleted_through_the_api_loses_its_resource(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    cluster.operator()
    name = unique("acct")
    await add_account(cluster, emulator, name)
    await wait_ready(cluster, name)
    file = await upload(uploader, unique("file") + ".bin")
    replica = resource_name(file["id"])

    async def exists() -> None:
        assert cluster.get("filereplica", replica) is not None

    await eventually(exists, within=60)
    assert (await uploader.delete(f"/files/{file['id']}")).status_code == 202

    async def gone() -> None:
        assert cluster.get("filereplica", replica) is None

    await eventually(gone, within=90)


async def test_deleting_an_account_drains_it_first(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    cluster.operator()
    names = [unique("acct") for _ in range(2)]
    accounts = [await add_account(cluster, emulator, n) for n in names]
    ids = [(await wait_ready(cluster, n))["status"]["uploaderAccountId"] for n in names]
    file = await upload(uploader, unique("file") + ".bin")

    async def on_both() -> None:
        got = (await uploader.get(f"/files/{file['id']}")).json()
        assert sorted(r["state"] for r in got["replicas"]) == ["ready", "ready"], got

    await eventually(on_both, within=90)
    assert await stored(emulator, accounts[0].id) == SIZE

    cluster.kubectl(
        "delete", "driveaccount", names[0], f"--namespace={cluster.namespace}", "--wait=false"
    )

    async def drained_and_gone() -> None:
        assert cluster.get("driveaccount", names[0]) is None

    await eventually(drained_and_gone, within=120)
    assert (await uploader.get(f"/accounts/{ids[0]}")).status_code == 404
    assert await stored(emulator, accounts[0].id) == 0
    # The file stays served by the other account.
    got = (await uploader.get(f"/files/{file['id']}")).json()
    assert [r["account_id"] for r in got["replicas"]] == [ids[1]]
    assert got["status"] == "uploaded"
