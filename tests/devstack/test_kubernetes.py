"""The devstack's Kubernetes control plane behaves like a real cluster.

CRDs with a status subresource, watches, Deployments whose pods run on kwok nodes, RBAC that
refuses what a Role does not grant, and helm installs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.api_client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from fileserver.devstack.servers import KubeAPIServer
from tests.fixtures.stack import Kubectl
from tests.utils.waiting import eventually

pytestmark = pytest.mark.cluster

GROUP, VERSION, PLURAL = "smoke.fileserver.io", "v1", "gadgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {"size": {"type": "integer", "minimum": 0}},
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
async def api(kube: KubeAPIServer) -> AsyncIterator[ApiClient]:
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(kube.ctx.kubeconfig()), client_configuration=configuration
    )
    async with ApiClient(configuration) as api_client:
        yield api_client


async def test_crd_watch_and_status_subresource(
    api: ApiClient, kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s")
    objects = client.CustomObjectsApi(api)

    async def served() -> None:  # a new CRD's storage answers 429 for a moment
        try:
            await objects.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        except ApiException as exc:
            raise AssertionError(f"CRD not served yet: {exc.status}") from exc

    await eventually(served)
    events: list[tuple[str, dict[str, object]]] = []

    async def watch_two() -> None:
        async with watch.Watch() as watcher:
            stream = watcher.stream(
                objects.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                timeout_seconds=30,
            )
            async for event in stream:
                events.append((event["type"], event["object"]))
                if len(events) == 2:
                    return

    watching = asyncio.create_task(watch_two())
    await asyncio.sleep(0.5)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "spec": {"size": 3},
    }
    await objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    # The main resource ignores status; only the /status subresource writes it.
    merge = "application/merge-patch+json"
    await objects.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "g1",
        {"status": {"phase": "Ignored"}},
        _content_type=merge,
    )
    await objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "g1",
        {"status": {"phase": "Ready"}},
        _content_type=merge,
    )
    await asyncio.wait_for(watching, 30)
    assert [t for t, _ in events] == ["ADDED", "MODIFIED"]
    stored = await objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "g1")
    assert stored["status"] == {"phase": "Ready"}
    assert stored["spec"] == {"size": 3}

    with pytest.raises(ApiException) as invalid:  # the schema is enforced by the API server
        await objects.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            {**body, "metadata": {"name": "bad"}, "spec": {"size": -1}},
        )
    assert invalid.value.status == 422


async def test_deployment_pods_run_on_kwok_nodes(
    api: ApiClient, kubectl: Kubectl, namespace: str
) -> None:
    kubectl(
        "-n",
        namespace,
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=3",
    )
    core = client.CoreV1Api(api)

    async def three_running() -> None:
        pods = (await core.list_namespaced_pod(namespace, label_selector="app=web")).items
        assert len(pods) == 3
        assert all(p.status.phase == "Running" for p in pods)
        assert all(p.spec.node_name.startswith("kwok-node-") for p in pods)

    await eventually(three_running)
    apps = client.AppsV1Api(api)
    deployment = await apps.read_namespaced_deployment("web", namespace)
    assert deployment.status.ready_replicas == 3


async def test_rbac_refuses_what_the_role_does_not_grant(
    api: ApiClient, kubectl: Kubectl, namespace: str, kube: KubeAPIServer
) -> None:
    kubectl("-n", namespace, "create", "serviceaccount", "reader")
    kubectl("-n", namespace, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl(
        "-n",
        namespace,
        "create",
        "rolebinding",
        "reader",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
    )
    token = kubectl("-n", namespace, "create", "token", "reader").strip()

    configuration = client.Configuration(host=kube.url)
    configuration.ssl_ca_cert = str(kube.ctx.pki_dir / "ca.crt")
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    async with ApiClient(configuration) as as_reader:
        core = client.CoreV1Api(as_reader)
        pods = await core.list_namespaced_pod(namespace)
        assert pods.items == []
        for forbidden in (
            core.list_namespaced_secret(namespace),
            core.list_namespaced_pod("kube-system"),
            core.delete_namespaced_pod("anything", namespace),
        ):
            with pytest.raises(ApiException) as denied:
                await forbidden
            assert denied.value.status == 403
    review = kubectl(
        "auth",
        "can-i",
        "list",
        "secrets",
        "-n",
        namespace,
        f"--as=system:serviceaccount:{namespace}:reader",
        check=False,
    )
    assert review.strip() == "no"


def test_helm_install_and_uninstall(kubectl: Kubectl, namespace: str) -> None:
    chart = Path(__file__).parent / "charts" / "smoke"
    kubectl.helm(
        "install",
        "smoke",
        str(chart),
        "-n",
        namespace,
        "--set",
        "greeting=bonjour",
        "--wait",
        "--timeout",
        "120s",
    )
    configmap = json.loads(
        kubectl("-n", namespace, "get", "configmap", "smoke-config", "-o", "json")
    )
    assert configmap["data"]["greeting"] == "bonjour"
    status = json.loads(kubectl.helm("status", "smoke", "-n", namespace, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    ready = kubectl(
        "-n", namespace, "get", "deployment", "smoke-web", "-o", "jsonpath={.status.readyReplicas}"
    )
    assert ready == "2"

    kubectl.helm("uninstall", "smoke", "-n", namespace, "--wait")
    left = kubectl("-n", namespace, "get", "configmap,deployment", "-o", "name")
    assert "smoke" not in left
    assert "smoke" not in kubectl.helm("list", "-n", namespace, "-q")
