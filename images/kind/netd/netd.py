"""fileserver-netd: the kind cluster's pod network, one agent per node (a hostNetwork DaemonSet).

What kind's kindnetd does, for the nodes of this project's clusters: each node's pods take
addresses from the node's ``spec.podCIDR`` through the ptp and host-local CNI plugins (a veth
per pod, routed by the node, no bridge); every other node's pod range is routed through that
node's InternalIP; traffic from pods to anything outside the pod network is masqueraded, so
that pod-to-pod traffic keeps its source address, which NetworkPolicies match on.

Standard library only: it runs on the image's Debian Python, talks to the API server with the
pod's ServiceAccount token, and calls ``ip`` and ``iptables``.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CNI_CONFIG = Path("/host/etc/cni/net.d/10-fileserver.conflist")
RESYNC_SECONDS = 10.0
MASQ_COMMENT = "fileserver-netd: pods to outside the pod network"


def log(message: str) -> None:
    print(f"netd: {message}", file=sys.stderr, flush=True)


def api_nodes(endpoint: str) -> list[dict[str, object]]:
    """Every Node, straight from the API server (no Service: kube-proxy may not run yet)."""
    request = urllib.request.Request(
        f"https://{endpoint}/api/v1/nodes",
        headers={"Authorization": f"Bearer {(SERVICE_ACCOUNT / 'token').read_text().strip()}"},
    )
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
        return list(json.load(response)["items"])


def internal_ip(node: dict[str, object]) -> str | None:
    for address in node.get("status", {}).get("addresses", []):  # type: ignore[union-attr]
        if address.get("type") == "InternalIP" and ":" not in address.get("address", ""):
            return str(address["address"])
    return None


def write_cni_config(pod_cidr: str) -> None:
    """The node's CNI configuration; written atomically, and only when it changes."""
    config = {
        "cniVersion": "0.4.0",
        "name": "fileserver",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": False,
                "mtu": 1500,
                "ipam": {
                    "type": "host-local",
                    "dataDir": "/run/cni-ipam-state",
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "ranges": [[{"subnet": pod_cidr}]],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    text = json.dumps(config, indent=2) + "\n"
    if CNI_CONFIG.exists() and CNI_CONFIG.read_text() == text:
        return
    tmp = CNI_CONFIG.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(CNI_CONFIG)
    log(f"CNI configuration written for {pod_cidr}")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def ensure_route(pod_cidr: str, via: str) -> None:
    proc = run("ip", "route", "replace", pod_cidr, "via", via)
    if proc.returncode != 0:
        log(f"route {pod_cidr} via {via} failed: {proc.stderr.strip()}")


def ensure_masquerade(pod_subnet: str) -> None:
    rule = [
        "-s",
        pod_subnet,
        "!",
        "-d",
        pod_subnet,
        "-m",
        "comment",
        "--comment",
        MASQ_COMMENT,
        "-j",
        "MASQUERADE",
    ]
    if run("iptables", "-t", "nat", "-C", "POSTROUTING", *rule).returncode != 0:
        proc = run("iptables", "-t", "nat", "-A", "POSTROUTING", *rule)
        if proc.returncode != 0:
            log(f"masquerade rule failed: {proc.stderr.strip()}")
        else:
            log(f"masquerading {pod_subnet} to outside the pod network")


def sync(endpoint: str, node_name: str, pod_subnet: str) -> None:
    for node in api_nodes(endpoint):
        name = node["metadata"]["name"]  # type: ignore[index]
        cidr = node.get("spec", {}).get("podCIDR")  # type: ignore[union-attr]
        if not cidr:
            continue
        if name == node_name:
            write_cni_config(str(cidr))
            continue
        address = internal_ip(node)
        if address:
            ensure_route(str(cidr), address)
    ensure_masquerade(pod_subnet)


def main() -> None:
    endpoint = os.environ["CONTROL_PLANE_ENDPOINT"]
    node_name = os.environ["NODE_NAME"]
    pod_subnet = os.environ["POD_SUBNET"]
    log(f"node {node_name}, pod network {pod_subnet}, API server {endpoint}")
    while True:  # a node agent: it lives as long as its pod
        try:
            sync(endpoint, node_name, pod_subnet)
        except (OSError, ValueError, KeyError) as exc:
            log(f"sync failed, retrying in {RESYNC_SECONDS:.0f}s: {exc}")
        time.sleep(RESYNC_SECONDS)


if __name__ == "__main__":
    main()
