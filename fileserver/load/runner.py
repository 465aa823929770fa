"""Run the plans with JMeter in non-GUI mode against the local system and collect the results.

Each plan is one JMeter process, one after the other: the plans' checks (rotation, budget
exhaustion) assume no other plan's traffic meanwhile. Tokens reach JMeter in a 0600 property
file that is deleted after the run, never on a command line another user could read.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.jmeter import ensure_jmeter
from fileserver.devstack.report import info, stage
from fileserver.load.plans import PLANS, PLANS_DIR
from fileserver.load.results import PlanSummary, read_jtl, summarise
from fileserver.system.accounts import ensure_demo_accounts
from fileserver.system.system import LocalSystem

# Startup of a short-lived JVM: no tiered optimisation beyond C1, the serial collector.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xms256m", "-Xmx1g")


@dataclass(frozen=True)
class LoadSettings:
    """How hard to load: JMeter properties every plan reads."""

    iterations: int = 1
    threads: int = 2
    duration: int = 600
    ramp_up: int = 0
    file_bytes: int = 4096

    def properties(self) -> dict[str, str]:
        return {
            "iterations": str(self.iterations),
            "threads": str(self.threads),
            "duration": str(self.duration),
            "ramp_up": str(self.ramp_up),
            "file_bytes": str(self.file_bytes),
        }


@dataclass(frozen=True)
class PlanRun:
    plan: str
    jtl: Path
    report: Path | None
    exit_code: int
    summary: PlanSummary


def plan_names(choice: str) -> list[str]:
    """``all`` (in run order) or one plan's name."""
    if choice == "all":
        return list(PLANS)
    if choice not in PLANS:
        raise DevstackError(f"unknown plan {choice!r}", f"one of: all, {', '.join(PLANS)}")
    return [choice]


def system_properties(system: LocalSystem) -> dict[str, str]:
    """Where the system's services listen and its admin tokens."""
    props = {}
    for name in ("uploader", "downloader", "stats"):
        service = system.service(name)
        props[f"{name}_host"] = httpx.URL(service.url).host
        props[f"{name}_port"] = str(service.port)
    props["uploader_token"] = system.secrets.uploader_admin_token
    props["downloader_token"] = system.secrets.downloader_admin_token
    return props


@contextlib.contextmanager
def running_system(system: LocalSystem) -> Iterator[list[str]]:
    """The local system, started if any service is not answering; on exit, stops exactly what
    it started (nothing, when the system was already up). Yields those names."""
    if all(s.ready for s in system.status()):
        yield []
        return
    started = system.up()
    try:
        ensure_demo_accounts(
            system, system.settings.demo_accounts, system.settings.demo_budget_bytes
        )
        yield started
    finally:
        services = {s.name for s in system.services}
        for name in reversed(started):
            if name in services:
                system.process(system.service(name)).stop()
        system.stack.down([n for n in started if n in system.stack.servers])


def run_plans(
    system: LocalSystem, names: list[str], settings: LoadSettings, out: Path, *, report: bool
) -> list[PlanRun]:
    """Run ``names`` one after the other; results under ``out/<plan>.jtl`` (+ ``-report/``)."""
    home = ensure_jmeter(system.stack.versions, system.stack.settings.cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    with properties_file(system_properties(system) | settings.properties()) as props:
        return [_run(home, name, out, props, report=report) for name in names]


@contextlib.contextmanager
def properties_file(props: dict[str, str]) -> Iterator[Path]:
    """JMeter's ``-q`` file holding ``props`` (tokens among them), deleted on exit."""
    fd, name = tempfile.mkstemp(prefix="fileserver-load-", suffix=".properties")
    try:
        with os.fdopen(fd, "w") as fh:  # mkstemp: mode 0600
            fh.writelines(f"{key}={value}\n" for key, value in props.items())
        yield Path(name)
    finally:
        Path(name).unlink()


def jmeter_argv(
    home: Path, plan: Path, jtl: Path, properties: Path, dashboard: Path | None = None
) -> list[str]:
    """JMeter in non-GUI mode on ``plan``: samples to ``jtl`` (CSV), its log beside it."""
    return [
        "java",
        *JVM_OPTIONS,
        "-jar",
        str(home / "bin" / "ApacheJMeter.jar"),
        "-n",
        "-t",
        str(plan),
        "-l",
        str(jtl),
        "-j",
        str(jtl.with_suffix(".log")),
        "-q",
        str(properties),
        "-Jjmeter.save.saveservice.output_format=csv",
        *(["-e", "-o", str(dashboard)] if dashboard else []),
    ]


def _run(home: Path, name: str, out: Path, properties: Path, *, report: bool) -> PlanRun:
    jtl = out / f"{name}.jtl"
    dashboard = out / f"{name}-report" if report else None
    argv = jmeter_argv(home, PLANS_DIR / f"{name}.jmx", jtl, properties, dashboard)
    with stage(f"plan {name}"), (out / f"{name}.out").open("w") as console_log:
        code = subprocess.call(argv, stdout=console_log, stderr=subprocess.STDOUT, cwd=out)
    if not jtl.exists():
        raise DevstackError(
            f"JMeter wrote no results for plan {name} (exit {code})",
            f"see {out / f'{name}.out'} and {out / f'{name}.log'}",
        )
    summary = summarise(name, read_jtl(jtl))
    info(f"{summary.samples} samples, {summary.failed} failed")
    return PlanRun(name, jtl, dashboard, code, summary)
