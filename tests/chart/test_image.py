"""The image by construction (no container engine here): the Dockerfile installs the locked
environment with the pinned uv, runs as non-root, and every entry point it or the chart names
exists and can run as ``python -m``."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

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
