"""The kopf operator at scale: DriveAccounts and FileReplicas on the devstack's kwok cluster.

    uv run python -m bench.operator [--accounts 1000] [--files 10000] [--json PATH] [--quick]

Issue #6 asks how fast the operator converges a pool of 1 000 DriveAccounts and a catalog of
10 000 files, as a ratio of the API server's raw write rate for the same objects in the same
run, and how much memory it takes. Everything runs as in ``tests/operator``: the devstack's
kube-apiserver (started if it is not running, never stopped if it was), a private local system
of the services (Uploader + worker, Downloader, Stats, Drive emulator, with their own Redis,
FerretDB and Prometheus, on free ports), a fresh namespace with the chart's RBAC, and the
operator as a real ``kopf run`` process authenticated as the chart's ServiceAccount.

Phase A, accounts. N emulator accounts and their Secrets are made first (not timed); then N
DriveAccounts are created (16 in flight) and a watch records when each first shows
``Ready=True``: the operator has registered it with the Uploader, had the Uploader check its
credentials with Drive, read its usage from the Downloader and written its status. Time to
converge = first create → last Ready.

Phase B, files. The catalog sync makes one FileReplica per Uploader file. A file's default
placement is every account, so files cannot be replicated onto phase A's N accounts (N×M Drive
copies), and the Uploader's worker replicates too slowly to upload M files for real here.
Phase B therefore runs on a second, fresh private system with one DriveAccount, and M files
are written straight into the Uploader's database as ``uploaded`` with a ready replica on that
account, as the worker leaves them. A full ``GET /files`` walk is timed by cursor, as the
sync walks it (with ``--offset-walk`` also by offset with a total per page, as it walked
before); then the Uploader's Deployment stand-in, which carries the catalog-sync timer, is
created, and the time is measured from then until all M FileReplicas exist and show phase
``Ready``. That is the operator's catch-up rate on a full catalog (first install, or an
operator back after an outage).

Baselines, in the same run, in a namespace no operator watches, with the admin credentials and
16 requests in flight (the catalog sync's own concurrency): create the same N DriveAccounts
(resp. M FileReplicas) and patch each one's status once through the status subresource, with
a status of the same shape the operator writes. Ratio = operator objects/s ÷ raw objects/s.

Memory: the operator process's VmRSS (``/proc/<pid>/status``), sampled every 0.5 s; peak and
final per phase. CPU seconds of each process (operator, services, FerretDB, Redis,
kube-apiserver, etcd; each process group summed) over each measured interval show where the
time goes; the kube-apiserver and etcd are shared with whatever else runs on the machine.

Results: JSON in ``--json`` or ``.state/bench/operator.json``; docs/performance.md "Operator".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from beanie import init_beanie
from fileserver_operator.builders.accounts import Observation, account_status
from fileserver_operator.builders.replicas import manifest, replica_status
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from pymongo import AsyncMongoClient

from apis.common import GROUP, VERSION
from apis.driveaccount import DriveAccountSpec
from bench.proc import machine
from fileserver.devstack.stack import Stack
from fileserver.system.kube import (
    DEPLOYMENTS,
    credentials_namespace,
    credentials_secret,
    deployment,
    drive_account,
    rbac_manifests,
    service_account_kubeconfig,
)
from fileserver.system.system import LocalSystem
from services.shared.events import FileStatus, ReplicaState
from services.uploader.models import Replica, StoredFile
from tests.fixtures.stack import Kubectl
from tests.utils.drive import PROJECT_ROOT, EmulatorAdmin
from tests.utils.local_system import PrivateSystem
from tests.utils.operator import OperatorRun, operator_env

CLUSTER = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
CRDS = [
    *sorted((PROJECT_ROOT / "crds").glob("*.yaml")),
    PROJECT_ROOT / "charts" / "fileserver" / "crds" / "kopf-peering.yaml",
]
CONCURRENCY = 16
"""Writes in flight for the baselines and the bench's own creates (the catalog sync's)."""
MERGE = "application/merge-patch+json"
FINALIZER = "fileserver.io/finalizer"
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- measuring -------------------------------------------------------------------------------


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class RssSampler:
    """Samples one process's VmRSS in a thread; ``mark`` names the phase being sampled."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, str, int]] = []
        self.label = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            rss = vm_rss_kib(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic(), self.label, rss))
            if self._stop.wait(self.interval):
                return

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        by_label: dict[str, list[int]] = {}
        for _, label, rss in self.samples:
            by_label.setdefault(label, []).append(rss)
        return {
            "samples": len(self.samples),
            "peak_mib": round(max((s[2] for s in self.samples), default=0) / 1024, 1),
            "final_mib": round(self.samples[-1][2] / 1024, 1) if self.samples else None,
            "by_step": {
                k: {"peak_mib": round(max(v) / 1024, 1), "last_mib": round(v[-1] / 1024, 1)}
                for k, v in by_label.items()
            },
        }


def group_cpu_seconds() -> dict[int, float]:
    """utime+stime of every process, summed per process group (services run in their own)."""
    totals: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        pgrp = int(fields[2])
        totals[pgrp] = totals.get(pgrp, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return totals


@dataclass
class CpuMeter:
    """CPU seconds used by named process groups between ``begin`` and ``end``."""

    pids: dict[str, int]
    start: dict[int, float] = field(default_factory=dict)

    def begin(self) -> None:
        self.start = group_cpu_seconds()

    def end(self) -> dict[str, float]:
        now = group_cpu_seconds()
        return {
            name: round(now.get(pid, 0.0) - self.start.get(pid, 0.0), 1)
            for name, pid in self.pids.items()
        }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def bounded(jobs: list[Callable[[], Awaitable[Any]]], limit: int = CONCURRENCY) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


# --- the cluster -----------------------------------------------------------------------------


def ready_condition(obj: dict[str, Any]) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def replica_ready(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("phase") == "Ready")


class Tracker:
    """Watches one plural in a namespace: when each object was first seen and first 'done'."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        plural: str,
        done: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.plural = plural
        self.done = done
        self.seen: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        """When each object was first seen done (Ready), even if it went back later."""
        self.current: set[str] = set()
        """Objects done in their latest observed state."""
        self.flaps = 0
        """Done → not done transitions (e.g. Ready=True then Ready=False)."""
        self.all_done_at: float | None = None
        """When all ``expected`` objects were first done at the same time."""
        self.expected = 0
        self.events = 0
        self.progress: list[tuple[float, int]] = []
        """(seconds into ``wait``, objects done then), every 15 s."""
        self._task: asyncio.Task[None] | None = None
        self._listed = asyncio.Event()

    def _note(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        now = time.monotonic()
        self.seen.setdefault(name, now)
        if self.done(obj):
            self.finished.setdefault(name, now)
            self.current.add(name)
            if self.all_done_at is None and self.expected and len(self.current) >= self.expected:
                self.all_done_at = now
        elif name in self.current:
            self.current.discard(name)
            self.flaps += 1

    async def _run(self) -> None:
        while True:
            try:
                listing = await self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, self.plural
                )
                for obj in listing["items"]:
                    self._note(obj)
                self._listed.set()
                version = listing["metadata"]["resourceVersion"]
                async with watch.Watch() as watcher:
                    stream = watcher.stream(
                        self.custom.list_namespaced_custom_object,
                        GROUP,
                        VERSION,
                        self.namespace,
                        self.plural,
                        resource_version=version,
                        timeout_seconds=120,
                    )
                    async for event in stream:
                        self.events += 1
                        if event["type"] in ("ADDED", "MODIFIED"):
                            self._note(event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                print(f"  (watch of {self.plural} restarted: {type(exc).__name__}: {exc})")
                await asyncio.sleep(1)

    async def start(self) -> Tracker:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._listed.wait(), 60)
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, count: int, within: float, label: str) -> bool:
        """Until all ``count`` objects are done at once (not merely each done once)."""
        self.expected = count
        if len(self.current) >= count and self.all_done_at is None:
            self.all_done_at = time.monotonic()
        started = time.monotonic()
        deadline = started + within
        last = -1.0
        while self.all_done_at is None:
            if time.monotonic() > deadline:
                print(f"  {label}: gave up after {within:.0f} s: {len(self.current)}/{count}")
                return False
            if time.monotonic() - last > 15:
                last = time.monotonic()
                self.progress.append((round(last - started, 1), len(self.current)))
                print(
                    f"  {label}: {len(self.seen)} seen, {len(self.current)}/{count} now, "
                    f"{len(self.finished)} ever, {self.flaps} flaps"
                )
            await asyncio.sleep(0.2)
        return True


class Cluster:
    """The devstack's cluster through its admin identity: kubectl, helm and an API client."""

    def __init__(self, stack: Stack, api: client.ApiClient) -> None:
        self.stack = stack
        self.kubectl = Kubectl(stack)
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.namespaces: list[str] = []

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        self.namespaces.append(name)
        return name

    def prepare(self, namespace: str, kubeconfig: Path) -> Path:
        """The chart's RBAC and a ServiceAccount kubeconfig (as ``tests/operator`` does)."""
        self.kubectl(
            "apply", "-f", "-", stdin=rbac_manifests(self.kubectl, namespace, peering=False)
        )
        return service_account_kubeconfig(self.kubectl, namespace, kubeconfig)

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> None:
        await self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: dict[str, Any]
    ) -> None:
        await self.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": status},
            _content_type=MERGE,  # type: ignore[call-arg]
        )

    async def unfinalize(self, namespace: str) -> int:
        """Remove our finalizer from what is left (no operator runs any more to do it)."""
        jobs: list[Callable[[], Awaitable[Any]]] = []
        for plural in ("driveaccounts", "filereplicas"):
            try:
                listing = await self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural
                )
            except ApiException:
                continue
            for item in listing["items"]:
                if item["metadata"].get("finalizers"):
                    jobs.append(self._unfinalizer(plural, namespace, item["metadata"]["name"]))
        # kopf puts the finalizer on the Deployments too (it carries timers on them).
        deployments = await self.apps.list_namespaced_deployment(namespace)
        for item in deployments.items:
            if item.metadata.finalizers:
                jobs.append(self._undeploy(namespace, item.metadata.name))
        await bounded(jobs)
        return len(jobs)

    def _undeploy(self, namespace: str, name: str) -> Callable[[], Awaitable[Any]]:
        async def job() -> None:
            with contextlib.suppress(ApiException):
                await self.apps.patch_namespaced_deployment(
                    name,
                    namespace,
                    {"metadata": {"finalizers": None}},
                    _content_type=MERGE,  # type: ignore[call-arg]
                )

        return job

    def _unfinalizer(self, plural: str, namespace: str, name: str) -> Callable[[], Awaitable[Any]]:
        async def job() -> None:
            with contextlib.suppress(ApiException):
                await self.custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    plural,
                    name,
                    {"metadata": {"finalizers": None}},
                    _content_type=MERGE,  # type: ignore[call-arg]
                )

        return job

    def delete_namespace(self, name: str) -> None:
        """The namespace and the credentials namespace the chart's RBAC made beside it."""
        for each in (name, credentials_namespace(name)):
            self.kubectl("delete", "namespace", each, "--wait=false", check=False)


def apply_crds(kubectl: Kubectl) -> None:
    for path in CRDS:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


# --- one operator on one private system ------------------------------------------------------


@dataclass
class Setup:
    """A private system, a namespace prepared as the chart prepares it, and the operator."""

    system: LocalSystem
    namespace: str
    run: OperatorRun
    rss: RssSampler
    cpu: CpuMeter

    @property
    def uploader_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.secrets.uploader_admin_token}"}

    def emulator(self) -> EmulatorAdmin:
        return EmulatorAdmin(
            self.system.service("drive-emulator").url, self.system.secrets.emulator_admin_token
        )

    def metrics(self) -> dict[str, float]:
        """The operator's reconcile and catalog counters (its Prometheus endpoint)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.run.metrics_port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        wanted = re.compile(r"^(fileserver_operator_\w+_total)(\{[^}]*\})? ([0-9.e+]+)$")
        found: dict[str, float] = {}
        for line in text.splitlines():
            match = wanted.match(line)
            if match:
                found[f"{match[1]}{match[2] or ''}"] = float(match[3])
        return found


@contextlib.contextmanager
def private_system(state_dir: Path) -> Iterator[LocalSystem]:
    local = PrivateSystem.allocate(state_dir).local_system()
    started = time.monotonic()
    try:
        local.up()
        print(f"  private system up in {time.monotonic() - started:.1f} s ({state_dir})")
        yield local
    finally:
        local.down()


def process_pids(system: LocalSystem, stack: Stack, operator_pid: int) -> dict[str, int]:
    pids = {"operator": operator_pid}
    for name in ("uploader", "uploader-worker", "downloader", "stats", "drive-emulator"):
        pid = system.process(system.service(name)).pid()
        if pid is not None:
            pids[name] = pid
    for name in ("ferretdb", "redis"):
        pid = system.stack.process(name).pid()
        if pid is not None:
            pids[name] = pid
    for name in ("kube-apiserver", "etcd"):
        pid = stack.process(name).pid()
        if pid is not None:
            pids[name] = pid
    return pids


async def start_operator(
    cluster: Cluster, system: LocalSystem, work: Path, prefix: str, deployments: list[str]
) -> Setup:
    namespace = cluster.namespace(prefix)
    kubeconfig = cluster.prepare(namespace, work / f"{prefix}.kubeconfig")
    cluster.apply(*(deployment(name, namespace) for name in deployments))
    run = OperatorRun(
        name=f"operator-{prefix}",
        run_dir=work,
        env=operator_env(
            system,
            namespace,
            kubeconfig,
            # The periodic refresh of every account would otherwise be measured too.
            account_sync_seconds="3600",
            catalog_sync_seconds="2",
            scale_interval_seconds="30",
            scale_down_delay_seconds="300",
            drain_poll_seconds="2",
        ),
        args=[f"--namespace={namespace}", "--standalone"],
    )
    run.start()
    deadline = time.monotonic() + 90
    while True:  # the startup handler opens the metrics endpoint once the clients exist
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                if (await http.get(f"http://127.0.0.1:{run.metrics_port}/metrics")).is_success:
                    break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not run.process.running():
            raise RuntimeError(f"the operator did not start:\n{run.log()}")
        await asyncio.sleep(0.3)
    pid = run.process.pid()
    assert pid is not None
    cpu = CpuMeter(process_pids(system, cluster.stack, pid))
    return Setup(system, namespace, run, RssSampler(pid).start(), cpu)


async def stop_operator(cluster: Cluster, setup: Setup) -> dict[str, Any]:
    setup.rss.stop()
    setup.run.stop()
    removed = await cluster.unfinalize(setup.namespace)
    print(f"  operator stopped; finalizers removed from {removed} objects")
    return setup.rss.summary()


def handler_errors(run: OperatorRun) -> dict[str, int]:
    """How kopf's handlers and timers failed, by cause (from the operator's log)."""
    pattern = re.compile(r"(Handler|Timer) '(\w+)' failed temporarily: (.{0,60}?)(?::|$)")
    found: dict[str, int] = {}
    for line in run.process.log_file.read_text(errors="replace").splitlines():
        match = pattern.search(line)
        if match:
            cause = re.sub(r"[0-9a-f]{32}", "<id>", match[3])
            key = f"{match[2]}: {cause}"
            found[key] = found.get(key, 0) + 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


# --- phase A: accounts -----------------------------------------------------------------------


def account_status_body(name: str) -> dict[str, Any]:
    """A status of the shape the operator writes for a Ready account."""
    spec = DriveAccountSpec.model_validate(
        {"email": f"{name}@bench.invalid", "credentialsSecretRef": {"name": f"{name}-creds"}}
    )
    observation = Observation(
        generation=1,
        spec=spec,
        account={"id": uuid.uuid4().hex, "replicas": 0},
        check={"ok": True, "reason": None, "storage_used_bytes": 0},
        figures={"issued_today": 0, "remaining_today": 10**11, "daily_budget_bytes": 10**11},
        credentials_version=f"{uuid.uuid4()}/1",
    )
    return account_status(observation, None)


async def raw_writes(
    cluster: Cluster,
    plural: str,
    prefix: str,
    count: int,
    objects: Callable[[str, int], tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """A baseline's figures: in a fresh namespace, no operator, create ``count`` objects and
    patch each one's status once (``objects(namespace, index)`` gives both), CONCURRENCY in
    flight."""
    namespace = cluster.namespace(prefix)

    async def write(index: int) -> None:
        body, status = objects(namespace, index)
        await cluster.create(plural, namespace, body)
        await cluster.patch_status(plural, namespace, body["metadata"]["name"], status)

    started = time.monotonic()
    await bounded([functools.partial(write, i) for i in range(count)])
    seconds = time.monotonic() - started
    cluster.delete_namespace(namespace)
    return {
        "objects": count,
        "writes": 2 * count,
        "seconds": round(seconds, 2),
        "objects_per_s": round(count / seconds, 1),
        "concurrency": CONCURRENCY,
    }


async def raw_accounts(cluster: Cluster, count: int) -> dict[str, Any]:
    """Baseline: create ``count`` DriveAccounts and patch each one's status, no operator."""

    def account(namespace: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        name = f"raw-{index:05d}"
        body = drive_account(name, namespace, f"{name}@bench.invalid", f"{name}-creds")
        return body, account_status_body(name)

    return await raw_writes(cluster, "driveaccounts", "bench-raw-accounts", count, account)


async def phase_accounts(
    cluster: Cluster, stack: Stack, work: Path, count: int, within: float
) -> dict[str, Any]:
    print(f"phase A: {count} DriveAccounts")
    baseline = await raw_accounts(cluster, count)
    print(f"  raw API baseline: {baseline}")
    with private_system(work / "system-accounts") as system:
        setup = await start_operator(cluster, system, work, "bench-accounts", DEPLOYMENTS)
        try:
            return await _accounts(cluster, setup, count, within) | {"baseline": baseline}
        finally:
            setup.rss.label = "stopping"
            memory = await stop_operator(cluster, setup)
            print(f"  operator memory: {memory}")
            cluster.delete_namespace(setup.namespace)


async def _accounts(cluster: Cluster, setup: Setup, count: int, within: float) -> dict[str, Any]:
    namespace = setup.namespace
    emulator = setup.emulator()
    names = [f"acct-{i:05d}" for i in range(count)]
    emails: dict[str, str] = {}
    setup.rss.label = "secrets"

    def secret_job(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            account = await emulator.create_account()
            emails[name] = account.email
            secrets = credentials_namespace(namespace)
            body = credentials_secret(f"{name}-creds", secrets, account.credentials)
            await cluster.core.create_namespaced_secret(secrets, body)  # type: ignore[arg-type]

        return run

    started = time.monotonic()
    await bounded([secret_job(n) for n in names], limit=8)
    await emulator.aclose()
    print(f"  {count} emulator accounts and Secrets in {time.monotonic() - started:.1f} s")
    tracker = await Tracker(cluster.api, namespace, "driveaccounts", ready_condition).start()
    before = setup.metrics()
    setup.rss.label = "accounts"
    setup.cpu.begin()

    def create_job(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await cluster.create(
                "driveaccounts",
                namespace,
                drive_account(name, namespace, emails[name], f"{name}-creds"),
            )

        return run

    t0 = time.monotonic()
    await bounded([create_job(n) for n in names])
    created = time.monotonic() - t0
    converged = await tracker.wait(count, within, "DriveAccounts Ready")
    t_end = tracker.all_done_at or time.monotonic()
    cpu = setup.cpu.end()
    seconds = t_end - t0
    first_ready_all = max(tracker.finished.values(), default=t_end) - t0
    await tracker.stop()
    setup.rss.label = "accounts-settled"
    await asyncio.sleep(5)  # the timers' first refresh round runs one second after each change
    after = setup.metrics()
    latencies = [tracker.finished[n] - tracker.seen[n] for n in tracker.finished]
    ready = len(tracker.current)
    return {
        "objects": count,
        "converged": converged,
        "ready": ready,
        "create_seconds": round(created, 2),
        "seconds": round(seconds, 2),
        "each_ready_once_seconds": round(first_ready_all, 2),
        "ready_flaps": tracker.flaps,
        "progress": tracker.progress,
        "handler_errors": handler_errors(setup.run),
        "objects_per_s": round(ready / seconds, 2),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
        "latency_max_s": percentile(latencies, 1.0),
        "watch_events": tracker.events,
        "cpu_seconds": cpu,
        "operator_counters": {k: v - before.get(k, 0.0) for k, v in after.items()},
        "memory": setup.rss.summary(),
    }


# --- phase B: files --------------------------------------------------------------------------


def replica_body(namespace: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A FileReplica and its Ready status, as the catalog sync writes them for a small file."""
    account = uuid.uuid4().hex
    file = {
        "id": uuid.uuid4().hex,
        "name": f"bench-{index:05d}.bin",
        "size": 64,
        "sha256": secrets.token_hex(32),
        "desired_replicas": None,
        "status": "uploaded",
        "replicas": [{"account_id": account, "state": "ready", "drive_file_id": uuid.uuid4().hex}],
    }
    body = manifest(file, namespace)
    status = replica_status(
        file,
        account_names={account: "acct-00000"},
        eligible_accounts=1,
        generation=1,
        placement=body["spec"]["placement"],
        current=None,
    )
    return body, status


async def raw_replicas(cluster: Cluster, count: int) -> dict[str, Any]:
    """Baseline: create ``count`` FileReplicas and patch each one's status, no operator."""
    return await raw_writes(cluster, "filereplicas", "bench-raw-files", count, replica_body)


async def seed_files(system: LocalSystem, account_id: str, count: int) -> None:
    """``count`` small files, ``uploaded`` with a ready replica on ``account_id``, written
    straight into the Uploader's database (as its worker leaves them, staging already gone)."""
    env = system.service("uploader").env
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["FILESERVER_UPLOADER_MONGO_URL"])
    try:
        database = mongo[env.get("FILESERVER_UPLOADER_MONGO_DB", "fileserver_uploader")]
        await init_beanie(database=database, document_models=[StoredFile], skip_indexes=True)
        for first in range(0, count, 500):
            docs = [
                StoredFile(
                    name=f"bench-{i:05d}.bin",
                    size=64,
                    content_type="application/octet-stream",
                    sha256=secrets.token_hex(32),
                    md5=secrets.token_hex(16),
                    status=FileStatus.UPLOADED,
                    replicas={
                        account_id: Replica(
                            account_id=account_id,
                            state=ReplicaState.READY,
                            drive_file_id=uuid.uuid4().hex,
                            attempts=1,
                        )
                    },
                    dirty=False,
                    acked_seq=1,
                )
                for i in range(first, min(first + 500, count))
            ]
            await StoredFile.insert_many(docs)
    finally:
        await mongo.close()


async def uploader_count(http: httpx.AsyncClient, status: str | None = None) -> int:
    params: dict[str, Any] = {"limit": 1}
    if status:
        params["status"] = status
    answer = await http.get("/files", params=params)
    answer.raise_for_status()
    return int(answer.json()["total"])


async def full_listing_seconds(http: httpx.AsyncClient, *, cursor: bool) -> tuple[float, int]:
    """Time of one full ``GET /files`` walk, 1 000 per page: by cursor, as the catalog sync
    walks it now (``sort=updated_at``, ``after``, ``count=false``), or by offset with a total
    per page, as it walked before."""
    started = time.monotonic()
    params: dict[str, Any] = {"limit": 1000}
    if cursor:
        params |= {"sort": "updated_at", "count": "false"}
    listed = 0
    while True:
        answer = await http.get("/files", params=params | ({} if cursor else {"offset": listed}))
        answer.raise_for_status()
        page = answer.json()
        listed += len(page["items"])
        done = page["next"] is None if cursor else listed >= page["total"]
        if done or not page["items"]:
            return time.monotonic() - started, listed
        if cursor:
            params["after"] = page["next"]


async def phase_files(
    cluster: Cluster, stack: Stack, work: Path, count: int, within: float, offset_walk: bool
) -> dict[str, Any]:
    print(f"phase B: {count} files → FileReplicas")
    baseline = await raw_replicas(cluster, count)
    print(f"  raw API baseline: {baseline}")
    with private_system(work / "system-files") as system:
        # No Uploader Deployment yet: the catalog-sync timer runs on it.
        setup = await start_operator(cluster, system, work, "bench-files", DEPLOYMENTS[1:])
        try:
            walk = await _files(cluster, setup, count, within, offset_walk)
            return walk | {"baseline": baseline}
        finally:
            setup.rss.label = "stopping"
            memory = await stop_operator(cluster, setup)
            print(f"  operator memory: {memory}")
            cluster.delete_namespace(setup.namespace)


async def _files(
    cluster: Cluster, setup: Setup, count: int, within: float, offset_walk: bool
) -> dict[str, Any]:
    namespace = setup.namespace
    # One DriveAccount through the operator: every file's placement ("every account") is it.
    emulator = setup.emulator()
    account = await emulator.create_account()
    await emulator.aclose()
    tracker = await Tracker(cluster.api, namespace, "driveaccounts", ready_condition).start()
    cluster.apply(
        credentials_secret(
            "acct-00000-creds", credentials_namespace(namespace), account.credentials
        ),
        drive_account("acct-00000", namespace, account.email, "acct-00000-creds"),
    )
    if not await tracker.wait(1, 120, "the files' DriveAccount"):
        raise RuntimeError(f"the DriveAccount did not become Ready:\n{setup.run.log()}")
    await tracker.stop()

    found = cluster.kubectl(
        "get", "driveaccount", "acct-00000", f"--namespace={namespace}", "-o", "json"
    )
    account_id = str(json.loads(found)["status"]["uploaderAccountId"])

    setup.rss.label = "seed"
    started = time.monotonic()
    await seed_files(setup.system, account_id, count)
    seeded = time.monotonic() - started
    print(f"  {count} uploaded files written to the Uploader's database in {seeded:.1f} s")
    url = setup.system.service("uploader").url
    async with httpx.AsyncClient(base_url=url, headers=setup.uploader_headers, timeout=300) as http:
        uploaded = await uploader_count(http, "uploaded")
        if uploaded != count:
            raise RuntimeError(f"the Uploader lists {uploaded} uploaded files, not {count}")
        walks = {}
        for how in ("offset", "cursor") if offset_walk else ("cursor",):
            seconds, listed = await full_listing_seconds(http, cursor=how == "cursor")
            walks[how] = round(seconds, 2)
            print(f"  one full GET /files walk by {how}: {seconds:.2f} s for {listed} files")

        tracker = await Tracker(cluster.api, namespace, "filereplicas", replica_ready).start()
        before = setup.metrics()
        setup.rss.label = "catalog"
        setup.cpu.begin()
        t0 = time.monotonic()
        cluster.apply(deployment(DEPLOYMENTS[0], namespace))
        converged = await tracker.wait(count, within, "FileReplicas Ready")
        t_end = tracker.all_done_at or time.monotonic()
        cpu = setup.cpu.end()
        await tracker.stop()
        setup.rss.label = "catalog-settled"
        await asyncio.sleep(5)
        after = setup.metrics()
    seconds = t_end - t0
    ready = len(tracker.current)
    created = sorted(tracker.seen.values())
    return {
        "objects": count,
        "converged": converged,
        "ready": ready,
        "seed_seconds": round(seeded, 1),
        "uploader_full_listing_seconds": walks,
        "first_created_after_s": round(created[0] - t0, 2) if created else None,
        "last_created_after_s": round(created[-1] - t0, 2) if created else None,
        "seconds": round(seconds, 2),
        "objects_per_s": round(ready / seconds, 2),
        "ready_flaps": tracker.flaps,
        "progress": tracker.progress,
        "watch_events": tracker.events,
        "cpu_seconds": cpu,
        "operator_counters": {k: v - before.get(k, 0.0) for k, v in after.items()},
        "catalog_sync_log": [
            line.strip()
            for line in setup.run.process.log_tail(4000).splitlines()
            if "catalog sync:" in line
        ][-20:],
        "memory": setup.rss.summary(),
    }


# --- main ------------------------------------------------------------------------------------


def with_ratio(result: dict[str, Any]) -> dict[str, Any]:
    raw = result["baseline"]["objects_per_s"]
    result["ratio"] = round(result["objects_per_s"] / raw, 3) if raw else None
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM (and SIGINT, ignored in background jobs) cancel the run: cleanup still happens.
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    stack = Stack()
    started_servers = stack.up(CLUSTER)
    work = stack.settings.state_dir / "bench" / f"operator-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    results: dict[str, Any] = {
        "benchmark": "operator",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": {"accounts": args.accounts, "files": args.files},
        "machine_before": machine(),
        "work_dir": str(work),
    }
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(stack.ctx.kubeconfig()), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = CONCURRENCY * 2
    api = client.ApiClient(configuration)
    cluster = Cluster(stack, api)
    try:
        apply_crds(cluster.kubectl)
        if args.accounts:
            results["accounts"] = with_ratio(
                await phase_accounts(
                    cluster, stack, work, args.accounts, args.accounts_timeout or args.timeout
                )
            )
            print(json.dumps(results["accounts"], indent=1))
        if args.files:
            results["files"] = with_ratio(
                await phase_files(cluster, stack, work, args.files, args.timeout, args.offset_walk)
            )
            print(json.dumps(results["files"], indent=1))
    finally:
        for namespace in cluster.namespaces:
            cluster.delete_namespace(namespace)
        await api.close()
        if started_servers:
            stack.down(started_servers)
    results["machine_after"] = machine()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--accounts", type=int, default=1000, help="DriveAccounts (0: skip)")
    parser.add_argument("--files", type=int, default=10000, help="files / FileReplicas (0: skip)")
    parser.add_argument("--quick", action="store_true", help="50 accounts and 500 files")
    parser.add_argument("--timeout", type=float, default=900, help="per convergence, seconds")
    parser.add_argument("--accounts-timeout", type=float, help="phase A's, if not --timeout")
    parser.add_argument(
        "--offset-walk",
        action="store_true",
        help="also time a GET /files walk by offset (slow: it grows with the square of M)",
    )
    parser.add_argument("--json", type=Path, help="default: .state/bench/operator.json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    if args.quick:
        args.accounts, args.files = 50, 500
    results = asyncio.run(run(args))
    out = args.json or Stack(cluster=False).settings.state_dir / "bench" / "operator.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    for phase in ("accounts", "files"):
        if phase in results:
            r = results[phase]
            print(
                f"{phase}: operator {r['objects_per_s']}/s over {r['seconds']} s, raw API "
                f"{r['baseline']['objects_per_s']}/s, ratio {r['ratio']}, operator RSS peak "
                f"{r['memory']['peak_mib']} MiB"
            )


if __name__ == "__main__":
    main()
