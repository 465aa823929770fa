"""Demand-driven placement against the real API server and services: a FileReplica with
``demandDriven: true`` gets its floor when cold, more replicas once downloaded, and a floor
above the pool is refused with nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fileserver_operator.builders.replicas import resource_name

from fileserver.system.system import LocalSystem
from tests.operator.handlers.test_filereplica import SIZE, stored, upload
from tests.utils.drive import EmulatorAdmin
from tests.utils.operator import Cluster, add_account, conditions, wait_ready
from tests.utils.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


async def test_a_demand_driven_file_gets_its_floor_then_replicas_as_it_is_downloaded(
    cluster: Cluster,
    emulator: EmulatorAdmin,
    uploader: httpx.AsyncClient,
    services: LocalSystem,
    unique: Callable[[str], str],
) -> None:
    # One replica serves 1 MB a day here: a few downloads of the file make it hot.
    cluster.operator(placement_interval_seconds="1", replica_daily_cap_bytes=str(10**6))
    names = [unique("acct") for _ in range(3)]
    accounts = [await add_account(cluster, emulator, n) for n in names]
    for n in names:
        await wait_ready(cluster, n)
    file = await upload(uploader, unique("file") + ".bin")
    replica = resource_name(file["id"])

    def resource() -> dict[str, Any]:
        return cluster.get("filereplica", replica) or {}

    async def placed(count: int, reason: str = "DemandDriven") -> None:
        status = resource().get("status") or {}
        assert (status.get("phase"), status.get("readyReplicas")) == ("Ready", count), status
        assert status.get("desiredReplicas") == count
        assert conditions(resource()).get("Placed") == ("True", reason), status

    async def ready_everywhere() -> None:
        status = resource().get("status") or {}
        assert (status.get("phase"), status.get("readyReplicas")) == ("Ready", 3), status

    await eventually(ready_everywhere, within=90)

    def patch(placement: str) -> None:
        cluster.kubectl(
            "patch", "filereplica", replica, f"--namespace={cluster.namespace}",
            "--type=merge", "-p", f'{{"spec":{{"placement":{placement}}}}}',
        )  # fmt: skip

    # Cold: the floor (2), one replica removed from Drive.
    patch('{"demandDriven":true}')
    await eventually(lambda: placed(2), within=90)
    message = next(c for c in resource()["status"]["conditions"] if c["type"] == "Placed")
    assert "2 replicas for 0.0 GB a day" in message["message"]
    assert (await uploader.get(f"/files/{file['id']}")).json()["desired_replicas"] == 2

    async def held_by(count: int) -> None:
        assert [await stored(emulator, a.id) for a in accounts].count(SIZE) == count

    await eventually(lambda: held_by(2), within=60)

    # Downloaded: 8 x 256 KiB is 2 MB today, at least 2 MB a day, so 1.5 x 2 / 1 = 3 replicas.
    async with httpx.AsyncClient(base_url=services.service("downloader").url) as downloader:
        for _ in range(8):
            answer = await downloader.get(f"/files/{file['id']}/download")
            assert answer.status_code == 200, answer.text
    await eventually(lambda: placed(3), within=90)
    status = resource()["status"]
    assert status["observedGeneration"] == resource()["metadata"]["generation"]
    await held_by(3)

    # A floor above the pool: refused, said in the status, nothing changed at the Uploader.
    patch('{"demandDriven":true,"mode":"Count","replicas":5}')

    async def refused() -> None:
        assert conditions(resource()).get("Placed") == ("False", "FloorAbovePool")

    await eventually(refused, within=60)
    message = next(c for c in resource()["status"]["conditions"] if c["type"] == "Placed")
    assert "placement.replicas 5 is more than the 3 accounts" in message["message"]
    await asyncio.sleep(2)  # two more rounds of the placement timer
    assert (await uploader.get(f"/files/{file['id']}")).json()["desired_replicas"] == 3
    assert resource()["status"]["readyReplicas"] == 3
