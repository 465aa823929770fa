"""The GitHub workflow (.github/workflows/ci.yaml) for users of the repository: the test job
runs where versions.toml's Debian pins exist (it runs the e2e test too, as `make test` does), an
e2e job runs the same e2e tests on the public images, and image tags are valid on every event."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from fileserver.devstack.config import DevstackSettings
from tests.chart.conftest import ROOT

pytestmark = pytest.mark.unit

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yaml").read_text())
JOBS: dict[str, Any] = WORKFLOW["jobs"]
# What Debian bookworm (12) ships: the versions the devstack accepts are these.
BOOKWORM = {"postgresql": "15", "redis": "7.0", "prometheus": "2.42"}


def _steps(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = JOBS[job]["steps"]
    return steps


def _uses(job: str, action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(job) if s.get("uses", "").split("@")[0] == action]


def _runs(job: str) -> str:
    return "\n".join(s.get("run", "") for s in _steps(job))


def test_the_test_job_runs_in_debian_bookworm() -> None:
    container = JOBS["test"]["container"]
    image = container if isinstance(container, str) else container["image"]
    assert image.split("@")[0] in {"debian:bookworm", "debian:12"}
    pins = tomllib.loads((ROOT / "versions.toml").read_text())["debian"]
    assert {k: pins[k] for k in BOOKWORM} == BOOKWORM, "versions.toml left bookworm: move the job"
    runs = _runs("test")
    assert ".ci/run" in runs
    assert "sudo" not in runs  # root in the container; there is no sudo
    # No setup-python: its builds are Ubuntu's; Debian's own Python 3.11 is the one.
    assert not _uses("test", "actions/setup-python")
    installed = set(
        re.findall(r"[a-z0-9.+-]+", runs.split("apt-get install", 1)[1].split("\n\n")[0])
    )
    assert {"git", "make", "python3", "python3-pip", "default-jdk-headless", "maven"} <= installed
    assert {"postgresql-15", "prometheus", "redis-server"}.isdisjoint(installed)  # devstack's job
    # git is there before the checkout (which otherwise downloads a tarball without history).
    names = [s.get("uses", "").split("@")[0] or "run" for s in _steps("test")]
    assert names.index("run") < names.index("actions/checkout")
    (go,) = _uses("test", "actions/setup-go")
    major, minor = (int(x) for x in str(go["with"]["go-version"]).split(".")[:2])
    assert (major, minor) >= (1, 24)
    assert JOBS["test"]["env"]["PIP_BREAK_SYSTEM_PACKAGES"] == "1"  # scripts/bootstrap's pip


def test_the_e2e_job_runs_the_e2e_tests_on_the_public_images() -> None:
    job = JOBS["e2e"]
    assert job["env"]["FILESERVER_DEV_IMAGES"] == "public"
    assert DevstackSettings(images=job["env"]["FILESERVER_DEV_IMAGES"]).images == "public"
    # The test job's container (its engine needs --privileged) and cache.
    assert job["container"] == JOBS["test"]["container"]
    assert _uses("e2e", "actions/cache") == _uses("test", "actions/cache")
    commands = [s["run"] for s in _steps("e2e") if "run" in s]
    assert commands[-3:] == [
        "scripts/bootstrap",
        "uv run fileserver dev install",
        "uv run pytest -m e2e tests/e2e",
    ]


def test_image_tags_are_valid_on_pull_requests() -> None:
    (meta,) = _uses("image", "docker/metadata-action")
    assert meta["with"]["images"].strip() == "ghcr.io/${{ github.repository }}"  # lower-cased
    tags = meta["with"]["tags"]
    assert "type=ref,event=pr" in tags  # pr-123, not 123/merge
    (build,) = _uses("image", "docker/build-push-action")
    assert build["with"]["tags"] == f"${{{{ steps.{meta['id']}.outputs.tags }}}}"
    # No hand-made tag: github.ref_name is "123/merge" on a pull request, and github.repository
    # keeps the owner's capitals, which GHCR refuses (the action lower-cases image names and
    # replaces what a tag may not hold).
    text = (ROOT / ".github" / "workflows" / "ci.yaml").read_text()
    assert "github.ref_name" not in text
    assert [line for line in text.splitlines() if "github.repository" in line] == [
        "          images: ghcr.io/${{ github.repository }}"
    ]
    assert build["with"]["push"] == "${{ startsWith(github.ref, 'refs/tags/v') }}"
