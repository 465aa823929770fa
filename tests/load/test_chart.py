"""The chart's JMeter Job runs the real plans: the ConfigMap carries jmeter/plans' files as
they are, the Job passes n and the Services, and the tokens come from the release's Secret."""

from __future__ import annotations

from typing import Any

import pytest

from fileserver.load.plans import PLANS_DIR
from tests.chart.conftest import Render, by_kind

pytestmark = pytest.mark.unit


def _job(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    (job,) = by_kind(objects, "Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container, container["args"][0]


def test_configmap_holds_the_real_plans(render: Render) -> None:
    objects = render()
    maps = by_kind(objects, "ConfigMap")
    plans: dict[str, str] = {}
    for i in range(4):  # one ConfigMap per plan, all mounted together
        plans |= maps[f"fs-fileserver-jmeter-plan-{i}"]["data"]
    assert list(plans) == ["accounts.jmx", "files.jmx", "downloads.jmx", "reports.jmx"]
    for name, text in plans.items():
        assert text == (PLANS_DIR / name).read_text().rstrip("\n"), name
    (job,) = by_kind(objects, "Job").values()
    (volume,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "plans"]
    sources = [s["configMap"]["name"] for s in volume["projected"]["sources"]]
    assert sources == [f"fs-fileserver-jmeter-plan-{i}" for i in range(4)]
    _, script = _job(objects)
    order = [script.index(f"/plans/{n}") for n in ("accounts", "files", "downloads", "reports")]
    assert order == sorted(order)


def test_job_passes_n_the_services_and_the_tokens(render: Render) -> None:
    container, script = _job(render("jmeter.iterations=7", "jmeter.threads=3"))
    for flag in (
        "-Jiterations=7", "-Jthreads=3", "-Jduration=600", "-Jfile_bytes=4096",
        "-Juploader_host=fs-fileserver-uploader", "-Juploader_port=8001",
        "-Jdownloader_host=fs-fileserver-downloader", "-Jdownloader_port=8002",
        "-Jstats_host=fs-fileserver-stats", "-Jstats_port=8003",
        "-q /tmp/tokens.properties",
        "-Jrotation_strict=false",  # two Downloader pods: each rotates on its own
    ):  # fmt: skip
        assert flag in script, flag
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs["UPLOADER_TOKEN"] == {"name": "fs-fileserver", "key": "uploader-admin-token"}
    assert refs["DOWNLOADER_TOKEN"] == {"name": "fs-fileserver", "key": "downloader-admin-token"}
    assert "TOKEN=" not in script.replace("_TOKEN", "")  # no token value in the manifest


def test_one_downloader_rotates_strictly_and_budget_can_be_chosen(render: Render) -> None:
    _, script = _job(render("downloader.replicas=1", "jmeter.plans={budget.jmx}"))
    assert "-Jrotation_strict=true" in script
    assert "/plans/budget.jmx" in script
    assert "/plans/files.jmx" not in script
