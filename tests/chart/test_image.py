"""The image by construction (no container engine here): the Dockerfile installs the locked
environment with the pinned uv, runs as non-root, and every entry point it or the chart names
exists and can run as ``python -m``; skaffold's file sync has somewhere writable to land only in
its development profile (devReload), the default install stays read-only."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import ROOT, Render, by_kind

pytestmark = pytest.mark.unit

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _runnable(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations:  # a package runs through its __main__
        return importlib.util.find_spec(f"{module}.__main__") is not None
    assert spec.origin
    return "__main__" in Path(spec.origin).read_text()


def test_dockerfile_installs_the_lock_file_with_the_pinned_uv() -> None:
    uv = tomllib.loads((ROOT / "versions.toml").read_text())["tools"]["uv"]
    assert f"ARG UV_VERSION={uv}\n" in DOCKERFILE
    assert "COPY pyproject.toml uv.lock" in DOCKERFILE
    assert DOCKERFILE.count("uv sync --frozen --no-dev") == 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm\n" in DOCKERFILE
    assert len(re.findall(r"^FROM ", DOCKERFILE, re.M)) == 2  # multi-stage
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user == ["10001:10001"]
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD ", DOCKERFILE, re.M)


def test_dockerignore_sends_only_what_the_image_needs() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*") + 1 :][:2] == ["!pyproject.toml", "!uv.lock"]
    for source in re.findall(r"^COPY (?!--from)(?:--\S+ )?(.+) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert f"!{path}" in lines or f"!{path.rstrip('/')}/" in lines, path
            assert (ROOT / path).exists(), path
    assert "**/.state" in lines


def test_every_entry_point_exists(render: Render) -> None:
    named = set(re.findall(r"python -m ([\w.]+)", DOCKERFILE))
    for deployment in by_kind(render(), "Deployment").values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        if command[:2] == ["python", "-m"]:
            named.add(command[2])
        else:
            assert command[:4] == ["kopf", "run", "-m", "fileserver_operator.main"], command
            assert importlib.util.find_spec("fileserver_operator.main") is not None
            assert shutil.which("kopf", path=str(Path(sys.executable).parent))
    assert named >= {
        "services.uploader", "services.uploader.worker", "services.downloader",
        "services.stats", "services.drive_emulator",
    }  # fmt: skip
    for module in sorted(named):
        assert _runnable(module), f"python -m {module} has no __main__"


def test_dev_reload_runs_under_watchfiles(render: Render) -> None:
    deployment = by_kind(render("devReload=true"), "Deployment")["fs-fileserver-uploader"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"][:3] == ["python", "-m", "watchfiles"]
    assert "python -m services.uploader" in container["command"]
    assert importlib.util.find_spec("watchfiles.cli") is not None


SOURCE_DIRS = ["apis", "services", "fileserver", "operator"]


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (container,) = by_kind(objects, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def test_the_default_install_keeps_every_file_read_only(render: Render) -> None:
    for name, deployment in by_kind(render(), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert "initContainers" not in pod, name
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert not any(m.startswith("/app") for m in mounts), (name, mounts)
        assert "watchfiles" not in container["command"], name


def test_dev_reload_makes_only_the_source_folders_writable(render: Render) -> None:
    objects = render("devReload=true")
    fileserver = {
        n: d for n, d in by_kind(objects, "Deployment").items() if not n.endswith("prometheus")
    }
    assert len(fileserver) == 6
    for name, deployment in fileserver.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        # The root file system stays read-only; the source folders are an emptyDir's ...
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        source = {m["mountPath"]: m.get("subPath") for m in container["volumeMounts"]
                  if m["name"] == "source"}  # fmt: skip
        assert source == {f"/app/{d}": d for d in SOURCE_DIRS}, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["source"] == {"name": "source", "emptyDir": {}}, name
        # ... filled from the image before the process starts (same image, same hardening).
        (init,) = pod["initContainers"]
        assert init["image"] == container["image"], name
        assert init["command"] == ["cp", "-a", *(f"/app/{d}" for d in SOURCE_DIRS), "/source/"]
        assert init["volumeMounts"] == [{"name": "source", "mountPath": "/source"}], name
        assert init["securityContext"] == container["securityContext"], name
        # ... and watchfiles restarts the process on a change there (the operator's too).
        command = container["command"]
        assert command[:3] == ["python", "-m", "watchfiles"], name
        assert command[-4:] == [f"/app/{d}" for d in SOURCE_DIRS], name
    operator = _container(objects, "fs-fileserver-operator")["command"]
    assert operator[operator.index("command") + 1].startswith("kopf run -m fileserver_operator")


def test_skaffold_syncs_only_in_its_dev_profile_and_only_where_the_chart_lets_it() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    (artifact,) = config["build"]["artifacts"]
    (release,) = config["deploy"]["helm"]["releases"]
    # `skaffold run`: the chart as users install it.
    assert "sync" not in artifact
    assert "devReload" not in release["setValues"]
    (dev,) = [p for p in config["profiles"] if p["name"] == "dev"]
    assert dev["activation"] == [{"command": "dev"}]  # `skaffold dev` turns it on by itself
    patches = {p["path"]: p for p in dev["patches"]}
    assert patches["/deploy/helm/releases/0/setValues/devReload"]["value"] is True
    rules = patches["/build/artifacts/0/sync"]["value"]["manual"]
    assert rules
    assert all(r["dest"] == "/app" and "strip" not in r for r in rules)
    # Every synced file lands in one of the folders devReload makes writable.
    synced = {r["src"].split("/", 1)[0] for r in rules}
    assert synced == set(SOURCE_DIRS)
    for folder in SOURCE_DIRS:
        assert f"COPY {folder}/ ./{folder}/" in DOCKERFILE, folder  # and the image has them
