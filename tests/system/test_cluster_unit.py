"""``up --cluster``'s and ``fileserver skaffold``'s wiring that needs no cluster: the URLs
``up`` prints and records are the chart's NodePorts as kind-config.yaml maps them, the chart
values it installs with, and the values file and skaffold.yaml profile of ``fileserver
skaffold`` (the runs themselves: tests/e2e)."""

from __future__ import annotations

import pytest
import yaml

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.devstack.kind import public_node_image
from fileserver.devstack.versions import Versions
from fileserver.system.cluster import (
    NODE_PORTS,
    bundled_values,
    chart_values,
    host_ports,
    public_images,
)
from fileserver.system.kube import CHART, command_deadline
from fileserver.system.skaffold import NAMESPACE, RELEASE, nested

pytestmark = pytest.mark.unit

# The bundled servers' images as the devstack tags them.
BUNDLED = {
    "postgresql": "fileserver/postgres:15-x",
    "redis": "fileserver/redis:7.0-x",
    "mongodb": "fileserver/ferretdb:1.24.0-x",
    "prometheus": "fileserver/prometheus:v2.53.2-x",
    "jmeter": "fileserver/jmeter:5.6.3-x",
}
VALUES = {
    "uploader": "uploader",
    "downloader": "downloader",
    "drive-emulator": "driveEmulator",
    "prometheus": "prometheus",
}


def test_every_url_is_a_node_port_of_the_chart_that_kind_config_maps() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    mapped = host_ports()
    for name, port in NODE_PORTS.items():
        assert values[VALUES[name]]["service"]["nodePort"] == port, name
        assert mapped[port].startswith("http://127.0.0.1:"), (name, mapped[port])
    assert len({mapped[port] for port in NODE_PORTS.values()}) == len(NODE_PORTS)


def test_chart_values_use_the_images_built_here_and_the_node_address() -> None:
    images = {"app": "fileserver/fileserver:dev-abc", **BUNDLED}
    values = dict(v.split("=", 1) for v in chart_values(images, "172.18.0.9"))
    assert values["image.repository"] == "fileserver/fileserver"
    assert values["image.tag"] == "dev-abc"
    assert values["image.pullPolicy"] == "Never"  # nothing can be pulled here
    assert values["mongodb.image"] == images["mongodb"]
    assert values["driveEmulator.publicUrl"] == "http://172.18.0.9:30090/"
    for key in ("uploader", "downloader", "driveEmulator", "prometheus"):
        assert values[f"{key}.service.type"] == "NodePort"


def test_with_public_images_the_bundled_servers_keep_the_charts_defaults() -> None:
    listed = chart_values({"app": "x/app:1"}, "10.0.0.1", public=True)
    values = dict(v.split("=", 1) for v in listed)
    assert values["image.pullPolicy"] == "Never"  # the app image is built and kind-loaded
    assert values["prometheus.enabled"] == "true"
    assert not [key for key in values if key.split(".")[0] in BUNDLED and key.endswith(".image")]
    assert "mongodb.auth" not in values  # the official mongo image creates its root user
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert public_images() == {name: defaults[name]["image"] for name in BUNDLED}
    assert public_images()["mongodb"].startswith("mongo:")
    # kind-config.yaml's node image, on the devstack's Kubernetes minor version.
    node = public_node_image()
    assert node.startswith("kindest/node:v")
    minor = ".".join(Versions.load(PROJECT_ROOT / "versions.toml").kubernetes.split(".")[:2])
    assert node.removeprefix("kindest/node:").startswith(f"{minor}."), (node, minor)


def test_the_values_file_names_the_bundled_images_built_here() -> None:
    values = nested(bundled_values(BUNDLED))
    assert values["postgresql"]["image"] == BUNDLED["postgresql"]
    assert values["mongodb"] == {"image": BUNDLED["mongodb"], "auth": False}
    assert values["prometheus"] == {"enabled": True, "image": BUNDLED["prometheus"]}
    assert nested(["a.b.c=x", "a.d=true"]) == {"a": {"b": {"c": "x"}, "d": True}}


def test_the_devstack_profile_reads_what_the_command_sets() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "skaffold.yaml").read_text())
    (release,) = config["deploy"]["helm"]["releases"]
    assert (release["name"], release["namespace"]) == (RELEASE, NAMESPACE)
    (artifact,) = config["build"]["artifacts"]
    # Not the first path component of the bundled images' names: skaffold would replace those.
    assert artifact["image"] == "fileserver/fileserver"
    assert all(not image.startswith(f"{artifact['image']}:") for image in BUNDLED.values())
    (profile,) = [p for p in config["profiles"] if p["name"] == "devstack"]
    assert profile["activation"] == [{"env": "FILESERVER_DEVSTACK=1"}]
    patches = {p["path"]: p["value"] for p in profile["patches"]}
    assert patches["/build/artifacts/0/docker/buildArgs"] == {"PYTHON_IMAGE": "{{.PYTHON_IMAGE}}"}
    assert patches["/deploy/helm/releases/0/valuesFiles"] == ["{{.FILESERVER_SKAFFOLD_VALUES}}"]
    # Without the profile the Dockerfile's own default base (the public Python image) applies.
    assert "buildArgs" not in artifact["docker"]


@pytest.mark.parametrize(
    ("argv", "seconds"),
    [
        (["helm", "upgrade", "--install", "--wait", "--timeout=10m"], 660.0),
        (["kubectl", "wait", "--timeout=1m30s"], 300.0),  # 90 s + margin stays under the floor
        (["kubectl", "delete", "ns", "x", "--timeout=1h"], 3660.0),
        (["kubectl", "get", "pods"], 300.0),
        (["kubectl", "wait", "--timeout=soon"], 300.0),  # not a duration: the floor
    ],
)
def test_a_call_is_never_cut_off_before_its_own_timeout(argv: list[str], seconds: float) -> None:
    assert command_deadline(argv) == seconds
