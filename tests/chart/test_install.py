"""The chart against the devstack's kube-apiserver with kwok nodes: server-side dry runs,
install, upgrade, uninstall, the operator's RBAC, and schema refusals at install time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tenacity import retry, stop_after_delay, wait_fixed

from tests.chart.conftest import CHART, MINIMAL, NO_PERSISTENCE, Render, set_args
from tests.fixtures.stack import Kubectl

pytestmark = pytest.mark.cluster


def _get(kubectl: Kubectl, namespace: str, kind: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", kind, "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    return json.loads(kubectl(*args))["items"]


@pytest.fixture
def crds(kubectl: Kubectl) -> None:
    """The chart's CRDs (helm installs them from crds/ too; dry runs need them first)."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/driveaccounts.fileserver.io",
            "crd/kopfpeerings.kopf.dev", "--timeout=60s")  # fmt: skip


@pytest.mark.parametrize("values", [[], MINIMAL], ids=["default", "minimal"])
def test_rendered_objects_pass_server_side_validation(
    kubectl: Kubectl, namespace: str, render: Render, crds: None, values: list[str]
) -> None:
    objects = render(*values, "metrics.grafanaDashboard.enabled=true", namespace=namespace)
    # The operator's Role in the credentials namespace: a dry run creates no namespace.
    credentials = f"{namespace}-credentials"
    kubectl("create", "namespace", credentials)
    try:
        manifest = "\n---\n".join(json.dumps(o) for o in objects)
        assert all(o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace")
        out = kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest)
        assert out.count("(server dry run)") == len(objects), out
    finally:
        kubectl("delete", "namespace", credentials, "--wait=false")


def _deployments_running(kubectl: Kubectl, namespace: str) -> dict[str, int]:
    nodes = {n["metadata"]["name"] for n in _get(kubectl, "", "nodes")}
    status = {}
    for d in _get(kubectl, namespace, "deployments"):
        selector = ",".join(f"{k}={v}" for k, v in d["spec"]["selector"]["matchLabels"].items())
        pods = [
            p for p in _get(kubectl, namespace, "pods", selector)
            if p["status"].get("phase") == "Running" and p["spec"].get("nodeName") in nodes
            and not p["metadata"].get("deletionTimestamp")
        ]  # fmt: skip
        assert d["status"].get("readyReplicas", 0) == d["spec"]["replicas"], d["metadata"]["name"]
        status[d["metadata"]["name"]] = len(pods)
    return status


def test_install_upgrade_uninstall(kubectl: Kubectl, namespace: str) -> None:
    # The chart owns the replicas here: the operator's container does not run on kwok's nodes,
    # so it could not own them (test_upgrade_leaves_the_operators_replicas_alone does).
    base = [*NO_PERSISTENCE, "jmeter.helmTest=false", "operator.scaleDeployments=false"]
    kubectl.helm("install", "fs", str(CHART), "-n", namespace, "--wait", "--timeout=4m",
                 *set_args(base))  # fmt: skip
    running = _deployments_running(kubectl, namespace)
    assert running == {
        "fs-fileserver-uploader": 2, "fs-fileserver-uploader-worker": 2,
        "fs-fileserver-downloader": 2, "fs-fileserver-stats": 1,
        "fs-fileserver-operator": 1, "fs-fileserver-drive-emulator": 1,
    }  # fmt: skip
    for sts in _get(kubectl, namespace, "statefulsets"):
        assert sts["status"].get("readyReplicas") == 1, sts["metadata"]["name"]
    crds = kubectl("get", "crd", "-o", "name")
    assert "driveaccounts.fileserver.io" in crds
    assert "filereplicas.fileserver.io" in crds
    secret = _get(kubectl, namespace, "secrets", "app.kubernetes.io/instance=fs")[0]
    before = {d["metadata"]["name"]: d for d in _get(kubectl, namespace, "deployments")}

    changed = [*base, "uploader.replicas=3", "uploader.maxUploadBytes=1000000"]
    kubectl.helm("upgrade", "fs", str(CHART), "-n", namespace, "--wait", "--timeout=4m",
                 *set_args(changed))  # fmt: skip
    after = {d["metadata"]["name"]: d for d in _get(kubectl, namespace, "deployments")}
    assert after["fs-fileserver-uploader"]["spec"]["replicas"] == 3
    for name, deployment in after.items():  # the settings changed: every pod template rolls
        old = before[name]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        new = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        assert new != old, name
        assert deployment["metadata"]["generation"] > before[name]["metadata"]["generation"]
    assert _deployments_running(kubectl, namespace)["fs-fileserver-uploader"] == 3
    # Tokens survive the upgrade (lookup), so running pods and stored credentials stay valid.
    kept = _get(kubectl, namespace, "secrets", "app.kubernetes.io/instance=fs")[0]
    assert kept["data"] == secret["data"]

    kubectl.helm("uninstall", "fs", "-n", namespace, "--wait", "--timeout=2m")

    # Pods go after their ReplicaSets, through the garbage collector: wait for it.
    @retry(stop=stop_after_delay(90), wait=wait_fixed(1), reraise=True)
    def only_the_kept_secret_is_left() -> None:
        left = json.loads(kubectl("get", "all,cm,secret,sa,role,rolebinding,pdb,networkpolicy,"
                                  "kopfpeerings", "-n", namespace,
                                  "-l", "app.kubernetes.io/instance=fs",
                                  "-o", "json"))["items"]  # fmt: skip
        assert [(o["kind"], o["metadata"]["name"]) for o in left] == [("Secret", "fs-fileserver")]

    only_the_kept_secret_is_left()
    assert "driveaccounts.fileserver.io" in kubectl("get", "crd", "-o", "name")
    # The credentials namespace stays too (the pool's Secrets are in it); its grant goes.
    credentials = f"{namespace}-credentials"
    kept = kubectl("get", "namespace", credentials, "-o", "name").strip()
    assert kept == f"namespace/{credentials}"
    assert "fs-fileserver" not in kubectl(
        "get", "role,rolebinding", "-n", credentials, "-o", "name"
    )
    kubectl("delete", "namespace", credentials, "--wait=false")
    bindings = kubectl("get", "clusterrolebindings", "-o", "name")
    assert f"fs-fileserver-{namespace}-operator" not in bindings


def _replicas(kubectl: Kubectl, namespace: str) -> dict[str, int]:
    return {
        d["metadata"]["name"].removeprefix("fs-fileserver-"): d["spec"]["replicas"]
        for d in _get(kubectl, namespace, "deployments")
    }


def test_upgrade_leaves_the_operators_replicas_alone(kubectl: Kubectl, namespace: str) -> None:
    """The operator owns spec.replicas of what it scales; Helm never writes the field."""
    base = [*NO_PERSISTENCE, "jmeter.helmTest=false"]
    kubectl.helm("install", "fs", str(CHART), "-n", namespace, *set_args(base))
    # Kubernetes' default for a Deployment without the field; in a real cluster the operator's
    # pod raises it to the floor at once (on kwok its container does not run).
    replicas = _replicas(kubectl, namespace)
    assert replicas["uploader"] == replicas["downloader"] == replicas["uploader-worker"] == 1
    kubectl("scale", "deployment/fs-fileserver-uploader", "--replicas=3", "-n", namespace)
    kubectl("scale", "deployment/fs-fileserver-uploader-worker", "--replicas=4", "-n", namespace)
    changed = [*base, "uploader.replicas=2", "uploader.maxUploadBytes=1000000"]
    kubectl.helm("upgrade", "fs", str(CHART), "-n", namespace, *set_args(changed))
    after = _replicas(kubectl, namespace)
    assert (after["uploader"], after["uploader-worker"]) == (3, 4)
    # Handing the field over from the chart to the operator: the first upgrade that leaves it
    # out makes Helm's three-way merge delete it (docs/deploy.md, "Replicas").
    kubectl.helm("upgrade", "fs", str(CHART), "-n", namespace,
                 *set_args([*base, "operator.scaleDeployments=false"]))  # fmt: skip
    assert _replicas(kubectl, namespace)["uploader"] == 2
    kubectl.helm("upgrade", "fs", str(CHART), "-n", namespace, *set_args(base))
    assert _replicas(kubectl, namespace)["uploader"] == 1
    kubectl.helm("uninstall", "fs", "-n", namespace, "--wait", "--timeout=2m")
    kubectl("delete", "namespace", f"{namespace}-credentials", "--wait=false")


def _can(kubectl: Kubectl, namespace: str, *args: str) -> bool:
    sa = f"system:serviceaccount:{namespace}:fs-fileserver-operator"
    out = kubectl("auth", "can-i", *args, "-n", namespace, f"--as={sa}", check=False)
    return out.strip().splitlines()[0] == "yes"


def test_operator_rbac_is_what_the_operator_needs_and_no_more(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.helm("install", "fs", str(CHART), "-n", namespace, *set_args(NO_PERSISTENCE))
    allowed = [
        ("watch", "driveaccounts.fileserver.io"), ("patch", "driveaccounts.fileserver.io"),
        ("patch", "driveaccounts.fileserver.io", "--subresource=status"),
        ("list", "filereplicas.fileserver.io"), ("create", "filereplicas.fileserver.io"),
        ("delete", "filereplicas.fileserver.io"),
        ("patch", "filereplicas.fileserver.io", "--subresource=status"),
        ("patch", "deployments.apps/fs-fileserver-uploader", "--subresource=scale"),
        ("get", "deployments.apps/fs-fileserver-downloader"),
        ("patch", "deployments.apps/fs-fileserver-stats"),
        ("patch", "deployments.apps/fs-fileserver-uploader-worker", "--subresource=scale"),
        ("create", "events"), ("patch", "events.events.k8s.io"),
        ("patch", "kopfpeerings.kopf.dev"), ("watch", "deployments.apps"),
    ]  # fmt: skip
    denied = [
        ("delete", "driveaccounts.fileserver.io"), ("create", "driveaccounts.fileserver.io"),
        ("get", "secrets"), ("list", "secrets"), ("watch", "secrets"),
        ("get", "secrets/fs-fileserver"), ("get", "secrets/sh.helm.release.v1.fs.v1"),
        ("create", "secrets"), ("delete", "secrets"),
        ("patch", "deployments.apps/fs-fileserver-operator"),
        ("delete", "deployments.apps/fs-fileserver-uploader"), ("list", "pods"),
        ("create", "leases.coordination.k8s.io"),
        ("list", "customresourcedefinitions.apiextensions.k8s.io"), ("list", "namespaces"),
    ]  # fmt: skip
    assert [a for a in allowed if not _can(kubectl, namespace, *a)] == []
    assert [d for d in denied if _can(kubectl, namespace, *d)] == []
    # Namespace-scoped by default: nothing in another namespace but the credentials one, where
    # it may get a Secret by name and do nothing else.
    sa = f"system:serviceaccount:{namespace}:fs-fileserver-operator"
    other = kubectl("auth", "can-i", "get", "secrets", "-n", "default", f"--as={sa}", check=False)
    assert other.strip().splitlines()[0] == "no"
    credentials = f"{namespace}-credentials"

    def can_there(verb: str, what: str) -> bool:
        out = kubectl("auth", "can-i", verb, what, "-n", credentials, f"--as={sa}", check=False)
        return out.strip().splitlines()[0] == "yes"

    assert can_there("get", "secrets/drive-alice")
    verbs = ("list", "watch", "create", "patch", "delete")
    assert [v for v in verbs if can_there(v, "secrets")] == []
    # The other components' tokens are not even mounted; their accounts can do nothing.
    worker = f"system:serviceaccount:{namespace}:fs-fileserver-uploader"
    out = kubectl("auth", "can-i", "get", "secrets", "-n", namespace, f"--as={worker}", check=False)
    assert out.strip().splitlines()[0] == "no"
    kubectl.helm("uninstall", "fs", "-n", namespace)
    kubectl("delete", "namespace", credentials, "--wait=false")


def test_schema_refusal_at_install(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.helm("install", "fs", str(CHART), "-n", namespace,
                       "--set", "secrets.create=false", check=False)  # fmt: skip
    assert "values don't meet the specifications of the schema" in out
    assert "at '/secrets/existingSecret'" in out
    assert "fs" not in kubectl.helm("list", "-n", namespace, "-q").split()


def test_persistent_claims_outlive_uninstall(kubectl: Kubectl, namespace: str) -> None:
    kubectl.helm("install", "fs", str(CHART), "-n", namespace,
                 "--set", "driveEmulator.persistence.enabled=true",
                 "--set", "jmeter.helmTest=false")  # fmt: skip

    @retry(stop=stop_after_delay(60), wait=wait_fixed(1), reraise=True)
    def claims() -> set[str]:
        names = {c["metadata"]["name"] for c in _get(kubectl, namespace, "pvc")}
        assert len(names) == 4, names
        return names

    expected = claims()
    assert {"data-fs-fileserver-postgresql-0", "fs-fileserver-drive-emulator"} <= expected
    kubectl.helm("uninstall", "fs", "-n", namespace, "--wait", "--timeout=2m")
    assert {c["metadata"]["name"] for c in _get(kubectl, namespace, "pvc")} == expected
    kubectl("delete", "namespace", f"{namespace}-credentials", "--wait=false")
