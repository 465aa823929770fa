"""``up --cluster``'s wiring that needs no cluster: the URLs it prints and records are the
chart's NodePorts as kind-config.yaml maps them, and the chart values it installs with."""

from __future__ import annotations

import pytest
import yaml

from fileserver.system.cluster import NODE_PORTS, chart_values, host_ports
from fileserver.system.kube import CHART

pytestmark = pytest.mark.unit

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
    images = {
        "app": "fileserver/fileserver:dev-abc",
        "postgresql": "fileserver/postgres:15-x",
        "redis": "fileserver/redis:7.0-x",
        "mongodb": "fileserver/ferretdb:1.24.0-x",
        "prometheus": "fileserver/prometheus:v2.53.2-x",
        "jmeter": "fileserver/jmeter:5.6.3-x",
    }
    values = dict(v.split("=", 1) for v in chart_values(images, "172.18.0.9"))
    assert values["image.repository"] == "fileserver/fileserver"
    assert values["image.tag"] == "dev-abc"
    assert values["image.pullPolicy"] == "Never"  # nothing can be pulled here
    assert values["mongodb.image"] == images["mongodb"]
    assert values["driveEmulator.publicUrl"] == "http://172.18.0.9:30090/"
    for key in ("uploader", "downloader", "driveEmulator", "prometheus"):
        assert values[f"{key}.service.type"] == "NodePort"
