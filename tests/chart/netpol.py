"""A small NetworkPolicy evaluator for the render tests: would this connection be allowed?

It follows the Kubernetes semantics a conforming CNI enforces: a pod selected by no policy of a
direction is open in that direction; a selected pod admits what any rule of any selecting
policy admits; a connection needs the source's egress and the destination's ingress. ``ipBlock``
peers match only endpoints outside the cluster (for pod addresses the API leaves it to the
implementation, so they are never counted as matching here: the stricter reading).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    """A pod: its namespace and labels."""

    namespace: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


@dataclass(frozen=True)
class External:
    """An address outside the cluster (a user, a node, Google, the API server's host)."""

    ip: str


Endpoint = Pod | External


def release_pod(component: str, *, namespace: str = "demo", release: str = "fs") -> Pod:
    """A pod of the chart's release, labelled as the chart labels its pods."""
    return Pod(
        namespace,
        {
            "app.kubernetes.io/name": "fileserver",
            "app.kubernetes.io/instance": release,
            "app.kubernetes.io/component": component,
        },
    )


DNS = Pod("kube-system", {"k8s-app": "kube-dns"})


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if not isinstance(endpoint, External):
            return False
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(endpoint.ip)
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(e) for e in block.get("except") or [])
    if not isinstance(endpoint, Pod):
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], endpoint.namespace_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], endpoint.labels)


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(
        p.get("protocol", "TCP") == protocol and ("port" not in p or p["port"] == port)
        for p in ports
    )


def _admits(
    policies: list[dict[str, Any]],
    pod: Pod,
    direction: str,
    peer: Endpoint,
    port: int,
    protocol: str,
) -> bool:
    kind, key, peers_key = (
        ("Ingress", "ingress", "from") if direction == "ingress" else ("Egress", "egress", "to")
    )
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and kind in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            if not _port_matches(rule, port, protocol):
                continue
            peers = rule.get(peers_key)
            if not peers or any(
                _peer_matches(p, peer, policy["metadata"]["namespace"]) for p in peers
            ):
                return True
    return False


def allowed(
    objects: list[dict[str, Any]],
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Whether the rendered policies let ``source`` open ``destination:port``."""
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    out = not isinstance(source, Pod) or _admits(
        policies, source, "egress", destination, port, protocol
    )
    into = not isinstance(destination, Pod) or _admits(
        policies, destination, "ingress", source, port, protocol
    )
    return out and into
