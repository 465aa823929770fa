"""``fileserver skaffold``'s pieces that need no cluster: the values file it writes and the
skaffold.yaml profile that reads it (the run itself: tests/e2e/test_skaffold.py)."""

from __future__ import annotations

import pytest
import yaml

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.system.cluster import bundled_values
from fileserver.system.skaffold import NAMESPACE, RELEASE, nested

pytestmark = pytest.mark.unit

IMAGES = {
    "postgresql": "fileserver/postgres:15-a",
    "redis": "fileserver/redis:7.0-b",
    "mongodb": "fileserver/ferretdb:1.24.0-c",
    "prometheus": "fileserver/prometheus:v2.53.2-d",
    "jmeter": "fileserver/jmeter:5.6.3-e",
}


def test_the_values_file_names_the_bundled_images_built_here() -> None:
    values = nested(bundled_values(IMAGES))
    assert values["postgresql"]["image"] == IMAGES["postgresql"]
    assert values["mongodb"] == {"image": IMAGES["mongodb"], "auth": False}
    assert values["prometheus"] == {"enabled": True, "image": IMAGES["prometheus"]}
    assert nested(["a.b.c=x", "a.d=true"]) == {"a": {"b": {"c": "x"}, "d": True}}


def test_the_devstack_profile_reads_what_the_command_sets() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "skaffold.yaml").read_text())
    (release,) = config["deploy"]["helm"]["releases"]
    assert (release["name"], release["namespace"]) == (RELEASE, NAMESPACE)
    (artifact,) = config["build"]["artifacts"]
    # Not the first path component of the bundled images' names: skaffold would replace those.
    assert artifact["image"] == "fileserver/fileserver"
    assert all(not image.startswith(f"{artifact['image']}:") for image in IMAGES.values())
    (profile,) = [p for p in config["profiles"] if p["name"] == "devstack"]
    assert profile["activation"] == [{"env": "FILESERVER_DEVSTACK=1"}]
    patches = {p["path"]: p["value"] for p in profile["patches"]}
    assert patches["/build/artifacts/0/docker/buildArgs"] == {"PYTHON_IMAGE": "{{.PYTHON_IMAGE}}"}
    assert patches["/deploy/helm/releases/0/valuesFiles"] == ["{{.FILESERVER_SKAFFOLD_VALUES}}"]
    # Without the profile the Dockerfile's own default base (the public Python image) applies.
    assert "buildArgs" not in artifact["docker"]
