"""fileserver on a real kind cluster, as a user runs it: the chart's pods are real containers.

The tests run in file order on one release (the ``release`` fixture): workloads and probes,
DriveAccounts through the operator in its pod, upload → replication → rotating downloads whose
bytes are checked, NetworkPolicies with real traffic, the in-cluster JMeter Job, an upgrade,
pods deleted under traffic, and last the uninstall.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import retry, stop_after_delay, wait_fixed

from fileserver.client.api import FileserverClient
from fileserver.client.config import ClientConfig
from fileserver.consistency.collect import collect
from fileserver.consistency.compare import compare
from fileserver.devstack.config import PROJECT_ROOT
from fileserver.system.cluster import ClusterSystem
from fileserver.system.kube import CHART, conditions, credentials_namespace, credentials_secret
from fileserver.system.kube import drive_account as drive_account_manifest
from tests.e2e.conftest import (
    DOWNLOADER,
    EMULATOR,
    FULL,
    NAMESPACE,
    PROMETHEUS,
    UPLOADER,
    Kube,
    Release,
)

pytestmark = pytest.mark.e2e

# Names of this session's own: the emulator issues an account's credentials once, so a rerun on
# a kept cluster (FILESERVER_TEST_KEEP_STACK=1) must not ask for the same accounts again.
RUN = uuid.uuid4().hex[:6]
ACCOUNTS = [f"e2e-{RUN}-{i}" for i in range(3)]
API_PORTS = {"uploader": 8001, "downloader": 8002, "stats": 8003}


def _client(release: Release) -> FileserverClient:
    return FileserverClient(
        ClientConfig(
            uploader_url=UPLOADER,
            downloader_url=DOWNLOADER,
            uploader_token=release.tokens["uploader-admin-token"],
            downloader_token=release.tokens["downloader-admin-token"],
        )
    )


def _pods(kube: Kube, component: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-l", f"app.kubernetes.io/component={component}")


def _in_pod(kube: Kube, pod: str, code: str, namespace: str = NAMESPACE) -> str:
    """Python run inside a pod's container (every fileserver image has it)."""
    return kube("exec", "-n", namespace, pod, "--", "python", "-c", code)


def test_every_workload_is_ready_and_readiness_reaches_readyz(release: Release) -> None:
    kube = release.kube
    for deployment in kube.items("deployments"):
        name, status = deployment["metadata"]["name"], deployment["status"]
        assert status.get("readyReplicas", 0) >= 1, name
        assert status.get("readyReplicas") == deployment["spec"]["replicas"], name
    for sts in kube.items("statefulsets"):
        assert sts["status"].get("readyReplicas") == 1, sts["metadata"]["name"]
    pods = kube.items("pods")
    # Real containers: each has a container id from containerd and an image the nodes hold.
    for pod in pods:
        for container in pod["status"].get("containerStatuses", []):
            assert container["containerID"].startswith("containerd://"), pod["metadata"]["name"]
    built = set(release.images.values())
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert images <= {f"docker.io/{i}" for i in built} | built, images - built
    # The kubelet's readiness probes really reach each API's /readyz: the app counted them.
    for component, port in API_PORTS.items():
        (deployment,) = kube.items("deployments", "-l", f"app.kubernetes.io/component={component}")
        probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        assert probe["httpGet"]["path"] == "/readyz", component
        for pod in _pods(kube, component):
            metrics = _in_pod(
                kube,
                pod["metadata"]["name"],
                "import urllib.request as u;"
                f"print(u.urlopen('http://127.0.0.1:{port}/metrics').read().decode())",
            )
            counted = re.findall(
                r'fileserver_http_requests_total\{[^}]*route="/readyz"[^}]*\} (\S+)', metrics
            )
            assert counted, (component, pod["metadata"]["name"])
            assert float(counted[0]) >= 1, (component, pod["metadata"]["name"])


def test_prometheus_scrapes_the_release(release: Release) -> None:
    @retry(stop=stop_after_delay(120), wait=wait_fixed(3), reraise=True)
    def scraped() -> set[str]:
        answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": "up == 1"}, timeout=10)
        answer.raise_for_status()
        jobs = {
            r["metric"].get("component", r["metric"].get("job", ""))
            for r in answer.json()["data"]["result"]
        }
        assert {"uploader", "downloader", "stats"} <= jobs, jobs
        return jobs

    assert scraped()


def _emulator_account(release: Release, email: str) -> dict[str, Any]:
    created = httpx.post(
        f"{EMULATOR}/_emulator/accounts",
        json={
            "email": email,
            "display_name": email.split("@")[0],
            "limits": {"download_bytes_per_day": 10**11},
        },
        headers={"Authorization": f"Bearer {release.tokens['emulator-admin-token']}"},
        timeout=30,
    )
    assert created.status_code in (200, 201), created.text
    credentials: dict[str, Any] = created.json()["credentials"]
    return credentials


def test_drive_accounts_become_ready_through_the_operator_pod(release: Release) -> None:
    kube = release.kube
    secrets_ns = credentials_namespace(NAMESPACE)
    for name in ACCOUNTS:
        email = f"{name}@e2e.fileserver.local"
        secret = credentials_secret(
            f"{name}-credentials", secrets_ns, _emulator_account(release, email)
        )
        account = drive_account_manifest(name, NAMESPACE, email, f"{name}-credentials", "100G")
        kube(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [secret, account]}),
        )

    @retry(stop=stop_after_delay(180), wait=wait_fixed(2), reraise=True)
    def all_ready() -> None:
        found = {d["metadata"]["name"]: d for d in kube.items("driveaccounts")}
        states = {n: conditions(found.get(n)).get("Ready", ("", ""))[0] for n in ACCOUNTS}
        assert set(states.values()) == {"True"}, states

    all_ready()
    # The operator acts with the chart's ServiceAccount, from its own pod.
    (operator,) = _pods(kube, "operator")
    assert operator["spec"]["serviceAccountName"] == f"{FULL}-operator"
    with _client(release) as api:
        emails = {a.email for a in api.all_accounts()}
    assert {f"{n}@e2e.fileserver.local" for n in ACCOUNTS} <= emails


def _upload(api: FileserverClient, name: str, data: bytes) -> str:
    file = api.upload([data], name=name, size=len(data), content_type="application/octet-stream")
    return file.id


def test_upload_replicates_to_every_account_and_downloads_rotate(release: Release) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with _client(release) as api:
        file_id = _upload(api, "e2e-blob.bin", data)
        file = api.wait_file(file_id, timeout=300)
        assert file.status == "uploaded", file.failure_reason
        assert file.sha256 == hashlib.sha256(data).hexdigest()
        accounts = {a.id for a in api.all_accounts()}
        assert len(file.replicas) == len(accounts) >= len(ACCOUNTS)
        api.wait_rotation(file_id, accounts=len(accounts), timeout=120)
        tickets = [api.ticket(file_id) for _ in range(2 * len(accounts))]
        spread = Counter(t.account_id for t in tickets)
        assert set(spread) == accounts  # every account serves, in turn
        assert max(spread.values()) - min(spread.values()) <= 1
        for ticket in tickets[: len(accounts)]:
            with api.fetch(ticket) as response:
                body = response.read()
            assert hashlib.sha256(body).hexdigest() == file.sha256, ticket.url


def _reach(kube: Kube, pod: str, host: str, port: int, namespace: str = NAMESPACE) -> bool:
    """Whether a TCP connection from ``pod`` to host:port opens within 3 s."""
    out = _in_pod(
        kube, pod,
        "import socket\n"
        f"s = socket.socket(); s.settimeout(3)\n"
        f"print('open' if s.connect_ex(({host!r}, {port})) == 0 else 'closed')",
        namespace=namespace,
    )  # fmt: skip
    return out.strip() == "open"


def test_network_policies_allow_the_release_and_refuse_others(release: Release) -> None:
    kube = release.kube
    outsider_ns = "e2e-outsider"
    kube("create", "namespace", outsider_ns, check=False)
    image = release.images["app"]
    kube("run", "outsider", "-n", outsider_ns, f"--image={image}", "--image-pull-policy=Never",
         "--restart=Never", "--command", "--", "sleep", "3600", check=False)  # fmt: skip
    kube("wait", "-n", outsider_ns, "--for=condition=Ready", "pod/outsider", "--timeout=120s")
    svc = f"{FULL}-{{}}.{NAMESPACE}.svc.cluster.local"
    # Another namespace's pod: the front doors are open, every datastore is closed.
    assert _reach(kube, "outsider", svc.format("uploader"), 8001, outsider_ns)
    assert _reach(kube, "outsider", svc.format("downloader"), 8002, outsider_ns)
    for store, port in (("postgresql", 5432), ("redis", 6379), ("mongodb", 27017)):
        assert not _reach(kube, "outsider", svc.format(store), port, outsider_ns), store
    # Inside the release (docs/deploy.md's table): what each pod needs opens, and only that —
    # egress is limited too. The Uploader's relay to the Downloader runs in its workers.
    uploader = _pods(kube, "uploader")[0]["metadata"]["name"]
    worker = _pods(kube, "uploader-worker")[0]["metadata"]["name"]
    downloader = _pods(kube, "downloader")[0]["metadata"]["name"]
    stats = _pods(kube, "stats")[0]["metadata"]["name"]
    assert _reach(kube, uploader, svc.format("mongodb"), 27017)
    assert _reach(kube, worker, svc.format("downloader"), 8002)
    assert _reach(kube, downloader, svc.format("postgresql"), 5432)
    assert _reach(kube, stats, svc.format("downloader"), 8002)
    assert not _reach(kube, uploader, svc.format("downloader"), 8002)
    assert not _reach(kube, uploader, svc.format("postgresql"), 5432)
    assert not _reach(kube, stats, svc.format("mongodb"), 27017)
    assert not _reach(kube, stats, svc.format("postgresql"), 5432)
    kube("delete", "namespace", outsider_ns, "--wait=false")


def test_jmeter_job_runs_the_plans_in_cluster(release: Release) -> None:
    kube = release.kube
    # `helm test --logs` reads Pod hooks only; the chart's test hook is a Job: its log is read here.
    out = kube.helm("test", "fs", "-n", NAMESPACE, "--timeout=15m", check=False)
    log = kube("logs", "-n", NAMESPACE, f"job/{FULL}-jmeter", "--tail=-1")
    summary = re.findall(r"^sampler (\S+) (.+?): (\d+) samples, (\d+) failed(.*)$", log, re.M)
    assert summary, log[-3000:]
    per_sampler = {(p, label): (int(n), int(f), codes) for p, label, n, f, codes in summary}
    assert {plan for plan, _ in per_sampler} >= {"accounts", "files", "downloads", "reports"}
    for (plan, label), (samples, failed, codes) in per_sampler.items():
        assert samples > 0, (plan, label)
        assert failed == 0, (plan, label, failed, codes)
    assert re.search(r"Phase:\s+Succeeded", out), out[-2000:]


def test_helm_upgrade_rolls_the_pods_and_loses_no_file(release: Release) -> None:
    kube = release.kube
    with _client(release) as api:
        before = {f.id: f.sha256 for f in api.list_files(limit=200).items}
    assert before
    old_pods = {p["metadata"]["name"] for p in _pods(kube, "uploader")}
    kube.helm("upgrade", "fs", str(CHART), "-n", NAMESPACE, "--wait", "--timeout=10m",
              *release.helm_set("uploader.maxUploadBytes=10000000000"))  # fmt: skip
    kube("rollout", "status", f"deployment/{FULL}-uploader", "-n", NAMESPACE, "--timeout=300s")

    # `helm --wait` returns once the new pods are Ready; the old ones may still be terminating.
    @retry(stop=stop_after_delay(120), wait=wait_fixed(2), reraise=True)
    def rolled() -> set[str]:
        live = {
            p["metadata"]["name"]
            for p in _pods(kube, "uploader")
            if not p["metadata"].get("deletionTimestamp")
        }
        assert live  # the changed setting rolled the pods: none of the old ones is left
        assert not live & old_pods, (live, old_pods)
        return live

    rolled()
    with _client(release) as api:
        after = {f.id: f.sha256 for f in api.list_files(limit=200).items}
        statuses = {f.status for f in api.list_files(limit=200).items}
    assert after == before
    assert statuses == {"uploaded"}


def test_up_recovers_a_release_an_interrupted_helm_left_pending(release: Release) -> None:
    """A killed ``helm upgrade`` leaves the release pending-upgrade, which refuses every later
    upgrade; ``up --cluster`` rolls it back to the last good revision and installs again."""
    kube = release.kube
    upgrade = subprocess.Popen(
        [str(kube.helm_binary), f"--kubeconfig={kube.kubeconfig}", "upgrade", "fs", str(CHART),
         "-n", NAMESPACE, "--wait", "--timeout=10m",
         *release.helm_set("uploader.maxUploadBytes=20000000000")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        @retry(stop=stop_after_delay(120), wait=wait_fixed(0.2), reraise=True)
        def pending() -> None:
            status = json.loads(kube.helm("status", "fs", "-n", NAMESPACE, "-o", "json"))
            assert status["info"]["status"] == "pending-upgrade", status["info"]["status"]

        pending()
    finally:
        upgrade.kill()
        upgrade.wait()
    refused = kube.helm("upgrade", "fs", str(CHART), "-n", NAMESPACE, "--reuse-values",
                        check=False)  # fmt: skip
    assert "another operation" in refused, refused

    ClusterSystem().install(release.cluster)
    history = json.loads(kube.helm("history", "fs", "-n", NAMESPACE, "-o", "json"))
    assert history[-1]["status"] == "deployed", history[-3:]
    assert history[-2]["description"].startswith("Rollback to"), history[-3:]


def test_deleting_a_pod_of_each_service_under_traffic_converges(release: Release) -> None:
    kube = release.kube
    data = [os.urandom(200_000 + i) for i in range(6)]
    with _client(release) as api:
        ids = [_upload(api, f"e2e-fault-{i}.bin", blob) for i, blob in enumerate(data[:3])]
        for component in ("uploader", "uploader-worker", "downloader", "stats", "operator"):
            pod = _pods(kube, component)[0]["metadata"]["name"]
            kube("delete", "pod", "-n", NAMESPACE, pod, "--wait=false")
        deadline = time.monotonic() + 240
        for i, blob in enumerate(data[3:], start=3):
            while True:  # the Uploader may be between pods: retry until it answers
                try:
                    ids.append(_upload(api, f"e2e-fault-{i}.bin", blob))
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the Uploader never came back"
                    time.sleep(2)
        files = [api.wait_file(i, timeout=300) for i in ids]
    assert [f.status for f in files] == ["uploaded"] * len(files)

    @retry(stop=stop_after_delay(240), wait=wait_fixed(5), reraise=True)
    def consistent() -> None:
        result = compare(collect(release.endpoints()))
        assert result.consistent, result.discrepancies
        assert result.sizes

    consistent()


def _fileserver(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``fileserver …`` as a user types it, in this checkout (it finds the recorded system)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("fileserver")), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_status_demo_and_check_consistency_run_against_the_cluster(release: Release) -> None:
    status = _fileserver("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for component in ("uploader", "uploader-worker", "downloader", "stats", "operator"):
        assert re.search(rf"{component}\s.*ready\s.*\d+/\d+", status.stdout), status.stdout
    demo = _fileserver("demo", "--big-mb", "12", "--accounts", "2", "--fetches", "4")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "verified" in demo.stdout.lower(), demo.stdout[-3000:]
    drive_accounts = release.kube.items("driveaccounts")
    demo_ready = {
        d["metadata"]["name"]
        for d in drive_accounts
        if d["metadata"]["name"].startswith("demo-") and conditions(d)["Ready"][0] == "True"
    }
    assert demo_ready == {"demo-0", "demo-1"}
    check = _fileserver("check-consistency", "--cluster", "--wait", "180", "--json")
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    result = json.loads(check.stdout)
    assert result["consistent"] is True, result
    assert result["sizes"]["files"] >= 3, result
    assert result["sizes"]["file_replicas"] == result["sizes"]["files"], result


def test_uninstall_leaves_only_what_the_docs_say(release: Release) -> None:
    kube = release.kube
    # DriveAccounts first, while the operator runs: it deregisters each account and lifts its
    # finalizer (after the uninstall nothing would, and the namespace could not be deleted).
    kube("delete", "driveaccounts", "--all", "-n", NAMESPACE, "--timeout=180s")
    assert kube.items("driveaccounts") == []
    kube.helm("uninstall", "fs", "-n", NAMESPACE, "--wait", "--timeout=5m")

    @retry(stop=stop_after_delay(120), wait=wait_fixed(2), reraise=True)
    def left() -> list[tuple[str, str]]:
        found = kube.json(
            "get",
            "all,cm,secret,sa,role,rolebinding,pdb,networkpolicy,pvc",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/instance=fs",
        )["items"]
        kinds = sorted((o["kind"], o["metadata"]["name"]) for o in found)
        # The last JMeter run stays until its ttlSecondsAfterFinished (jmeter.keepSeconds).
        kept = [k for k in kinds if k[0] not in ("Secret", "PersistentVolumeClaim")]
        assert [k for k in kept if not k[1].startswith(f"{FULL}-jmeter")] == [], kinds
        assert {kind for kind, _ in kept} <= {"Job", "Pod"}, kinds
        return kinds

    kept = left()
    assert ("Secret", FULL) in kept
    assert {name for kind, name in kept if kind == "PersistentVolumeClaim"} == {
        *(f"data-{FULL}-{store}-0" for store in ("postgresql", "redis", "mongodb")),
        f"{FULL}-drive-emulator",  # driveEmulator.persistence: kept (helm.sh/resource-policy)
    }
    (job,) = kube.items("jobs", "-l", "app.kubernetes.io/instance=fs")
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert "driveaccounts.fileserver.io" in kube("get", "crd", "-o", "name")
    # The credentials namespace and the Secrets in it stay (docs/deploy.md, "Uninstall keeps").
    kept_secrets = kube.items("secrets", namespace=credentials_namespace(NAMESPACE))
    assert {f"{name}-credentials" for name in ACCOUNTS} <= {
        s["metadata"]["name"] for s in kept_secrets
    }
