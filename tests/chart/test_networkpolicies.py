"""The NetworkPolicies as rendered: the release's pods reach what they need (the table in
docs/deploy.md), others are refused, egress is held to the table, DNS, the Kubernetes API and
Google's Drive API when the emulator is off. Evaluated with Kubernetes' semantics
(tests/chart/netpol.py); the e2e test proves them with traffic on a cluster that enforces them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.chart.conftest import ROOT, Render, by_kind
from tests.chart.netpol import DNS, External, Pod, allowed, release_pod

pytestmark = pytest.mark.unit

UP, DL, ST, WM, OM, EMU = 8001, 8002, 8003, 9101, 9102, 8090
PG, RD, MG, PROM = 5432, 6379, 27017, 9090
# Every connection between the release's pods, as docs/deploy.md's table lists it.
NEEDED = [
    ("uploader", "mongodb", MG), ("uploader", "redis", RD), ("uploader", "drive-emulator", EMU),
    ("uploader-worker", "mongodb", MG), ("uploader-worker", "redis", RD),
    ("uploader-worker", "drive-emulator", EMU), ("uploader-worker", "downloader", DL),
    ("downloader", "postgresql", PG), ("downloader", "redis", RD),
    ("stats", "redis", RD), ("stats", "downloader", DL),
    ("operator", "uploader", UP), ("operator", "downloader", DL), ("operator", "stats", ST),
    ("prometheus", "uploader", UP), ("prometheus", "downloader", DL), ("prometheus", "stats", ST),
    ("prometheus", "uploader-worker", WM), ("prometheus", "operator", OM),
    ("prometheus", "drive-emulator", EMU),
    ("jmeter", "uploader", UP), ("jmeter", "downloader", DL), ("jmeter", "stats", ST),
    ("jmeter", "drive-emulator", EMU),
]  # fmt: skip
PORT = {
    "uploader": UP, "downloader": DL, "stats": ST, "uploader-worker": WM, "operator": OM,
    "drive-emulator": EMU, "postgresql": PG, "redis": RD, "mongodb": MG, "prometheus": PROM,
}  # fmt: skip
APPS = ["uploader", "uploader-worker", "downloader", "stats", "operator", "drive-emulator"]
COMPONENTS = [*APPS, "postgresql", "redis", "mongodb", "prometheus", "jmeter"]
STRANGER = Pod("web", {"app": "browser"})  # any pod of another namespace
NEIGHBOUR = Pod("demo", {"app": "other"})  # a pod of the release's namespace, not of the release
OTHER_RELEASE = release_pod("uploader", release="other")
NODE = External("172.18.0.3")  # what a NodePort's traffic comes from on kind
GOOGLE = External("142.250.74.10")
API_SERVER = External("172.18.0.2")  # the control plane node behind the kubernetes Service
WITH_PROMETHEUS = ["prometheus.enabled=true"]


def _pod(name: str) -> Pod:
    return release_pod(name)


@pytest.fixture(scope="module")
def default(render: Render) -> list[dict[str, Any]]:
    return render(*WITH_PROMETHEUS)


def test_one_clearly_named_policy_per_component(default: list[dict[str, Any]]) -> None:
    policies = by_kind(default, "NetworkPolicy")
    assert sorted(policies) == sorted(f"fs-fileserver-{c}" for c in COMPONENTS)
    for component in COMPONENTS:
        policy = policies[f"fs-fileserver-{component}"]
        assert policy["metadata"]["labels"]["app.kubernetes.io/component"] == component
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == component
        assert selector["app.kubernetes.io/instance"] == "fs"
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_the_release_pods_reach_what_they_need(default: list[dict[str, Any]]) -> None:
    refused = [e for e in NEEDED if not allowed(default, _pod(e[0]), _pod(e[1]), e[2])]
    assert refused == []
    for component in COMPONENTS:  # and the cluster DNS
        assert allowed(default, _pod(component), DNS, 53, "UDP"), component
        assert allowed(default, _pod(component), DNS, 53, "TCP"), component
    assert allowed(default, _pod("operator"), API_SERVER, 6443)
    assert allowed(default, _pod("prometheus"), API_SERVER, 6443)  # pod discovery


def test_nothing_else_between_the_release_pods(default: list[dict[str, Any]]) -> None:
    needed = {(s, d) for s, d, _ in NEEDED}
    leaks = [
        (source, target)
        for source in COMPONENTS
        for target in PORT
        if source != target
        and (source, target) not in needed
        and allowed(default, _pod(source), _pod(target), PORT[target])
    ]
    # The APIs' and metrics ports admit anyone by default, yet a release pod the table does
    # not name still cannot reach them: its own egress is held to the table.
    assert leaks == [], leaks
    for name in ("uploader", "stats", "drive-emulator", "postgresql", "mongodb", "jmeter"):
        assert not allowed(default, _pod(name), _pod("uploader"), 8080), name  # no such port


@pytest.mark.parametrize("outsider", [STRANGER, NEIGHBOUR, OTHER_RELEASE], ids=str)
def test_the_datastores_and_the_emulator_refuse_others(
    default: list[dict[str, Any]], outsider: Pod
) -> None:
    for target in ("postgresql", "redis", "mongodb", "drive-emulator"):
        assert not allowed(default, outsider, _pod(target), PORT[target]), target
    # The front door and the metrics stay open to them by default (apiFrom, metricsFrom empty).
    for target in ("uploader", "downloader", "stats", "uploader-worker", "operator"):
        assert allowed(default, outsider, _pod(target), PORT[target]), target


def test_egress_is_held_to_the_table(default: list[dict[str, Any]], render: Render) -> None:
    # The emulator answers Drive calls: nobody goes to Google. (The operator and Prometheus may
    # open any address on the API server's ports unless egress.apiServer.to names it.)
    for component in set(COMPONENTS) - {"operator", "prometheus"}:
        assert not allowed(default, _pod(component), GOOGLE, 443), component
    narrowed = render(
        *WITH_PROMETHEUS, "networkPolicy.egress.apiServer.to[0].ipBlock.cidr=172.18.0.2/32"
    )
    for component in ("operator", "prometheus"):
        assert allowed(narrowed, _pod(component), API_SERVER, 6443), component
        assert not allowed(narrowed, _pod(component), GOOGLE, 443), component
    for component in ("uploader", "downloader", "stats", "drive-emulator", "redis", "jmeter"):
        assert not allowed(default, _pod(component), API_SERVER, 6443), component
        assert not allowed(default, _pod(component), STRANGER, 8080), component
    assert not allowed(default, _pod("drive-emulator"), _pod("uploader"), UP)


def test_api_from_narrows_the_front_door_but_keeps_the_release(render: Render) -> None:
    objects = render(
        *WITH_PROMETHEUS,
        "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=web",
        "networkPolicy.metricsFrom[0].podSelector.matchLabels.app=scraper",
    )
    assert allowed(objects, STRANGER, _pod("uploader"), UP)  # namespace "web"
    assert not allowed(objects, Pod("evil"), _pod("uploader"), UP)
    assert not allowed(objects, Pod("evil"), _pod("downloader"), DL)
    assert not allowed(objects, NEIGHBOUR, _pod("downloader"), DL)
    assert not allowed(objects, NODE, _pod("uploader"), UP)  # ClusterIP: no node traffic
    # The release's own calls survive the narrowing (the blocked paths).
    for source, target, port in NEEDED:
        assert allowed(objects, _pod(source), _pod(target), port), (source, target)
    assert allowed(objects, Pod("demo", {"app": "scraper"}), _pod("stats"), ST)
    assert not allowed(objects, NEIGHBOUR, _pod("stats"), ST)
    assert not allowed(objects, NEIGHBOUR, _pod("operator"), OM)


def test_a_node_port_admits_traffic_from_the_nodes(render: Render) -> None:
    objects = render(
        "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.team=web",
        "uploader.service.type=NodePort",
        "driveEmulator.service.type=NodePort",
        "driveEmulator.publicUrl=http://localhost:8090/",
    )
    assert allowed(objects, NODE, _pod("uploader"), UP)  # kind's port mapping arrives so
    assert not allowed(objects, NODE, _pod("downloader"), DL)  # still ClusterIP
    assert allowed(objects, NODE, _pod("drive-emulator"), EMU)  # users fetch the bytes
    assert allowed(objects, STRANGER, _pod("drive-emulator"), EMU)
    assert not allowed(objects, NODE, _pod("redis"), RD)
    narrowed = render(
        "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.team=web",
        "uploader.service.type=NodePort",
        "networkPolicy.externalFrom[0].ipBlock.cidr=172.18.0.0/16",
    )
    assert allowed(narrowed, NODE, _pod("uploader"), UP)
    assert not allowed(narrowed, External("203.0.113.7"), _pod("uploader"), UP)


def test_google_and_external_servers_when_nothing_is_bundled(render: Render) -> None:
    objects = render(
        "driveEmulator.enabled=false",
        "redis.enabled=false",
        "redis.external.url=redis://:pw@redis.example:6380/0",
        "mongodb.enabled=false",
        "mongodb.external.url=mongodb://u:p@m1:27017\\,m2:27018/?replicaSet=rs",
        "postgresql.enabled=false",
        "postgresql.external.url=postgresql://fs:pw@db.example/fs",
    )
    policies = by_kind(objects, "NetworkPolicy")
    assert "fs-fileserver-redis" not in policies
    assert "fs-fileserver-drive-emulator" not in policies
    managed = External("10.20.30.40")
    for name in ("uploader", "uploader-worker"):  # Drive is Google now
        assert allowed(objects, _pod(name), GOOGLE, 443), name
        assert allowed(objects, _pod(name), managed, 27018), name
        assert not allowed(objects, _pod(name), managed, 5432), name
    for name in ("downloader", "stats"):
        assert not allowed(objects, _pod(name), GOOGLE, 443), name
    assert allowed(objects, _pod("downloader"), managed, 5432)  # the URL names no port
    assert allowed(objects, _pod("stats"), managed, 6380)
    assert not allowed(objects, _pod("stats"), managed, 6379)
    assert not allowed(objects, _pod("stats"), managed, 27017)


def test_egress_can_be_left_open_and_policies_off(render: Render) -> None:
    objects = render("networkPolicy.egress.enabled=false")
    for policy in by_kind(objects, "NetworkPolicy").values():
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert "egress" not in policy["spec"]
    assert allowed(objects, _pod("stats"), GOOGLE, 443)
    assert not allowed(objects, STRANGER, _pod("redis"), RD)
    assert not by_kind(render("networkPolicy.enabled=false"), "NetworkPolicy")


def test_the_docs_table_is_the_chart_s(default: list[dict[str, Any]]) -> None:
    """docs/deploy.md lists every connection between release pods: no more, no fewer."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    table = text[text.index("| from | to | port | why |") :].split("\n\n")[0]
    rows = {
        (m.group(1), m.group(2))
        for m in re.finditer(r"^\| ([a-z-]+) \| ([a-z-]+) \| \d+", table, re.M)
    }
    assert rows == {(s, d) for s, d, _ in NEEDED}


def test_jmeter_may_fetch_the_public_download_urls_on_their_port_only(render: Render) -> None:
    # Download URLs name a node (or load balancer) address, not a pod: the in-cluster JMeter
    # Job fetches them there (the e2e test on kind proved it blocked before this rule).
    node = External("172.18.0.3")
    public = render("driveEmulator.publicUrl=http://172.18.0.3:30090/")
    assert allowed(public, _pod("jmeter"), node, 30090)
    assert not allowed(public, _pod("jmeter"), node, 30080)
    assert not allowed(public, _pod("uploader"), node, 30090)
    assert not allowed(render(), _pod("jmeter"), node, 30090)
