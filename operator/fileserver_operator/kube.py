"""The few Kubernetes calls the handlers make beyond what kopf does for them.

kopf writes the status and finalizers of the object a handler runs for; this module covers the
rest: reading Secrets (one by name), creating and deleting FileReplicas from the catalog,
writing their status (the catalog sync is their status writer) and scaling Deployments.
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from apis.common import GROUP, VERSION
from apis.filereplica import FileReplica

MERGE = "application/merge-patch+json"


class Forbidden(Exception):
    """The API server refused a read (403): RBAC does not grant it. Not worth retrying soon."""


async def connect() -> client.ApiClient:
    """An API client from ``$KUBECONFIG`` / ``~/.kube/config``, or the pod's service account."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        await config.load_kube_config()
    return client.ApiClient()


class Kube:
    """Typed-enough wrappers; a 404 on read or delete is an answer, not an error."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    async def close(self) -> None:
        await self.api.close()

    def _plain(self, obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.api.sanitize_for_serialization(obj)
        return result

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One Secret, by name (the operator may ``get`` Secrets, never list or watch them)."""
        try:
            return self._plain(await self.core.read_namespaced_secret(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 403:
                raise Forbidden(f"get secret {name!r} in namespace {namespace!r}") from None
            raise

    async def create_file_replica(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a FileReplica; False if it exists already (another sync made it)."""
        try:
            await self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, FileReplica.PLURAL, body
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def delete_file_replica(self, namespace: str, name: str) -> None:
        try:
            await self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, FileReplica.PLURAL, name
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def patch_file_replica(
        self,
        namespace: str,
        name: str,
        *,
        spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None,
    ) -> None:
        """Merge-patch the spec and/or the status (through its subresource) of a FileReplica."""
        try:
            if spec:
                await self.custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    FileReplica.PLURAL,
                    name,
                    {"spec": spec},
                    _content_type=MERGE,  # type: ignore[call-arg]
                )
            if status is not None:
                await self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    namespace,
                    FileReplica.PLURAL,
                    name,
                    {"status": status},
                    _content_type=MERGE,  # type: ignore[call-arg]
                )
        except ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: the next sync forgets it
                raise

    async def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._plain(await self.apps.read_namespaced_deployment(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def scale(
        self,
        namespace: str,
        name: str,
        replicas: int,
        annotations: dict[str, str],
        *,
        resource_version: str | None = None,
    ) -> bool:
        """Set a Deployment's replicas through its scale subresource, then its annotations.

        With ``resource_version``, only if the Deployment has not changed since (a precondition
        of the patch): a handler acting on an older event must not undo a newer scaling. False
        when that precondition failed and nothing was written.
        """
        body: dict[str, Any] = {"spec": {"replicas": replicas}}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            await self.apps.patch_namespaced_deployment_scale(
                name,
                namespace,
                body,
                _content_type=MERGE,  # type: ignore[call-arg]
            )
        except ApiException as exc:
            if resource_version and exc.status == 409:
                return False
            raise
        await self.annotate_deployment(namespace, name, annotations)
        return True

    async def annotate_deployment(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> None:
        await self.apps.patch_namespaced_deployment(
            name,
            namespace,
            {"metadata": {"annotations": annotations}},
            _content_type=MERGE,  # type: ignore[call-arg]
        )
