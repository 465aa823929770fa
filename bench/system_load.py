"""End-to-end throughput of the whole local system under JMeter, and where it saturates first.

    uv run python -m bench.system_load [--threads 1 4 16 64] [--seconds 30] [--json PATH]

Brings up a private local system (its own state folder and ports: the five services, FerretDB,
Redis, Prometheus, the Drive emulator with the demo accounts), uploads one file, and at each
thread count runs a JMeter plan whose threads ask for download URLs of that file in a loop.
Each answer is the system's main path end to end: the Downloader picks an account, charges its
budget, records the URL and queues the event on Redis, where Stats counts it. The baseline, at
the same thread count in the same run, is the same plan against the bare FastAPI endpoint of
bench/bare.py (one uvicorn worker, as the system's Downloader): what JMeter and this machine
give when the server does nothing.

While JMeter runs, the CPU time of every process (each service with its worker processes,
FerretDB, Redis, Prometheus, JMeter itself) is read from /proc every 0.25 s, and the machine's
busy time from /proc/stat (everyone's work, other users included). Over JMeter's measured
window (its first samples skipped as warm-up) each process's CPU time per second is the cores
it used. The bottleneck named is the first of: a single-threaded process (the Python services,
whose event loop holds the GIL, and Redis) at ≥ 85 % of one core; the machine's CPUs ≥ 90 %
busy; otherwise nothing saturated (the requests wait rather than compute). On a machine
shared with other work the CPUs may be busy with that work, so the CPU time per sample of each
process also gives what would saturate first as load grows here (see ``bottleneck``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.downloader import bare
from bench.proc import TICKS, cpu_ticks, descendants, machine_busy_ticks
from fileserver.client.api import FileserverClient
from fileserver.client.config import ClientConfig
from fileserver.devstack.config import get_settings
from fileserver.devstack.jmeter import ensure_jmeter
from fileserver.load.jmx import http, jmx_plan, prop, status, thread_group
from fileserver.load.results import Sample, percentile, read_jtl
from fileserver.load.runner import jmeter_argv, properties_file, running_system, system_properties
from fileserver.system.system import LocalSystem
from tests.utils.local_system import PrivateSystem

DATA_SERVERS = ("redis", "ferretdb", "prometheus")
SINGLE_CORE = {"uploader", "uploader-worker", "downloader", "stats", "drive-emulator", "redis"}
SATURATED_CORE = 0.85  # of one core, for a process that cannot use more
SATURATED_MACHINE = 0.9  # of every CPU
FILE_BYTES = 4096
INTERVAL = 0.25
PATH = "/files/${__P(file_id)}/download"


def throughput_plan() -> ET.ElementTree[ET.Element]:
    """Threads asking for download URLs of one file (``-Jfile_id``) until ``duration``."""
    return jmx_plan(
        "fileserver download URLs in a loop",
        "Throughput: every thread asks for download URLs of one file, for `duration` seconds.",
        thread_group(
            "clients",
            http("download URL", "downloader", "GET", PATH, status(200)),
            threads=prop("threads"),
            loops="-1",  # until the duration runs out
        ),
    )


@dataclass
class CpuSampler:
    """CPU ticks of named process trees (a root pid each) and of the machine, every INTERVAL."""

    roots: dict[str, int]
    snapshots: list[tuple[float, dict[str, dict[int, int]], tuple[int, int]]] = field(
        default_factory=list
    )
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            trees = {
                name: {pid: ticks for pid in descendants(root) if (ticks := cpu_ticks(pid))}
                for name, root in self.roots.items()
            }
            self.snapshots.append((time.time(), trees, machine_busy_ticks()))
            self._stop.wait(INTERVAL)

    def stop(self) -> None:
        self._stop.set()

    def window(self, start: float, end: float) -> tuple[dict[str, dict[str, float]], float]:
        """Per tree: cores used in all and by its busiest process; and the machine's busy
        cores (everyone's), between the snapshots closest inside ``[start, end]``."""
        inside = [s for s in self.snapshots if start <= s[0] <= end]
        if len(inside) < 2:
            raise RuntimeError(f"too few CPU samples in the window ({len(inside)})")
        (t0, first, busy0), (t1, last, busy1) = inside[0], inside[-1]
        seconds = t1 - t0
        cpu = {}
        for name, pids in last.items():
            used = [ticks - first[name].get(pid, 0) for pid, ticks in pids.items()]
            cpu[name] = {
                "cores": sum(used) / TICKS / seconds,
                "busiest_process_cores": max(used, default=0) / TICKS / seconds,
            }
        return cpu, (busy1[0] - busy0[0]) / TICKS / seconds


def jmeter_run(
    home: Path,
    plan: Path,
    jtl: Path,
    props: dict[str, str],
    roots: dict[str, int],
    warmup: float,
) -> dict[str, Any]:
    """One JMeter run while sampling CPU: throughput, percentiles and cores per process."""
    jtl.unlink(missing_ok=True)  # JMeter appends to an existing results file
    with properties_file(props) as properties, jtl.with_suffix(".out").open("w") as console:
        process = subprocess.Popen(
            jmeter_argv(home, plan, jtl, properties),
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=jtl.parent,
        )
        sampler = CpuSampler(roots | {"jmeter": process.pid})
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        try:
            code = process.wait()
        finally:
            sampler.stop()
            thread.join()
    samples = read_jtl(jtl) if jtl.exists() else []
    if code != 0 or not samples:
        raise RuntimeError(f"JMeter failed (exit {code}); see {jtl.with_suffix('.out')}")
    start = min(s.start_ms for s in samples) / 1000 + warmup
    end = max(s.start_ms + s.elapsed_ms for s in samples) / 1000
    measured = [s for s in samples if s.start_ms / 1000 >= start]
    cpu, machine_cores = sampler.window(start, end)
    return summary(measured, end - start) | {"cpu": cpu, "machine_busy_cores": machine_cores}


def summary(samples: list[Sample], seconds: float) -> dict[str, Any]:
    elapsed = [s.elapsed_ms for s in samples]
    return {
        "samples": len(samples),
        "errors": sum(not s.success for s in samples),
        "seconds": seconds,
        "rps": len(samples) / seconds,
        "p50_ms": percentile(elapsed, 50),
        "p95_ms": percentile(elapsed, 95),
        "p99_ms": percentile(elapsed, 99),
    }


def bottleneck(level: dict[str, Any], cpus: int) -> dict[str, Any]:
    """What saturated first at one thread count (see the module's docstring for the rule), and
    what would as load grows, at the CPU per sample measured: each single-threaded process
    fills its core at ``samples/s ÷ its cores``, the machine at ``CPUs × samples/s ÷ the cores
    of the system and JMeter``; the lowest of these ceilings comes first."""
    rps, cpu = level["system"]["rps"], level["system"]["cpu"]
    single = {n: c["busiest_process_cores"] for n, c in cpu.items() if n in SINGLE_CORE}
    name = max(single, key=single.__getitem__)
    busy = level["system"]["machine_busy_cores"]
    ours = sum(c["cores"] for c in cpu.values())
    if single[name] >= SATURATED_CORE:
        kind, text = "process", f"{name} at {single[name]:.0%} of one core"
    elif busy >= SATURATED_MACHINE * cpus:
        other = max(0.0, busy - ours)
        kind, text = (
            "machine",
            f"the machine's {cpus} CPUs ({busy:.2f} cores busy, {other:.2f} by other work)",
        )
    else:
        kind, text = "none", "no CPU saturated"
    ceilings = {n: rps / cores for n, cores in single.items() if cores > 0}
    ceilings[f"the {cpus} CPUs"] = cpus * rps / ours
    first = min(ceilings, key=ceilings.__getitem__)
    projected = f"{first} would fill first, at ≈ {ceilings[first]:.0f} samples/s"
    return {
        "kind": kind,
        "process": name if kind == "process" else None,
        "observed": text,
        "ceilings": ceilings,
        "first": first,
        "projected": projected,
        "statement": f"{text}; the system's processes and JMeter used {ours:.2f} cores, "
        f"the busiest single-threaded one {name} {single[name]:.2f}; at this CPU per sample "
        f"{projected}",
    }


def measure(system: LocalSystem, threads: list[int], seconds: float, out: Path) -> dict[str, Any]:
    """The baseline and the system at every thread count; the system's own processes sampled."""
    home = ensure_jmeter(system.stack.versions, system.stack.settings.cache_dir)
    plan = out / "throughput.jmx"
    plan.write_text(ET.tostring(throughput_plan().getroot(), encoding="unicode"))
    config = ClientConfig(
        uploader_url=system.service("uploader").url,
        downloader_url=system.service("downloader").url,
        uploader_token=system.secrets.uploader_admin_token,
        downloader_token=system.secrets.downloader_admin_token,
    )
    with FileserverClient(config) as client:
        uploaded = client.upload(
            [b"x" * FILE_BYTES],
            name="bench-system-load.bin",
            size=FILE_BYTES,
            content_type="application/octet-stream",
        )
        client.wait_file(uploaded.id, timeout=180)
        client.ticket(uploaded.id, wait=60)  # the Downloader knows it
    found = {s.name: system.process(s).pid() for s in system.services}
    found |= {n: system.stack.process(n).pid() for n in DATA_SERVERS}
    roots = {name: pid for name, pid in found.items() if pid is not None}
    if roots.keys() != found.keys():
        raise RuntimeError(f"a process of the system is not running: {found}")
    warmup = min(3.0, seconds / 4)
    common = {"file_id": str(uploaded.id), "duration": str(int(seconds + warmup + 1))}
    levels = []
    for count in threads:
        props = system_properties(system) | common | {"threads": str(count)}
        baseline = bare(1)
        try:
            base = jmeter_run(
                home,
                plan,
                out / f"bare-{count}.jtl",
                props | {"downloader_port": str(baseline.port)},
                {"bare": baseline.process.pid},
                warmup,
            )
        finally:
            baseline.stop()
        ours = jmeter_run(home, plan, out / f"system-{count}.jtl", props, roots, warmup)
        level = {"threads": count, "bare": base, "system": ours, "ratio": ours["rps"] / base["rps"]}
        levels.append(level)
        print(
            f"| {count} | {base['rps']:.0f} | {ours['rps']:.0f} | {level['ratio']:.2f} "
            f"| {ours['p50_ms']:.0f} / {ours['p99_ms']:.0f} | {ours['errors']} "
            f"| {ours['machine_busy_cores']:.2f} |",
            flush=True,
        )
    return {"levels": levels}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, per run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    print("| threads | bare samples/s | system samples/s | ratio | p50 / p99 ms | errors | busy |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    out = get_settings().state_dir / "bench" / "system_load"  # JMeter's files, kept
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        system = PrivateSystem.allocate(Path(tmp)).local_system()
        with running_system(system):
            figures = measure(system, args.threads, args.seconds, out)
    cpus = os.cpu_count() or 1
    for level in figures["levels"]:
        level["bottleneck"] = bottleneck(level, cpus)
    top = figures["levels"][-1]
    figures |= {
        "file_bytes": FILE_BYTES,
        "ratio": top["ratio"],
        "bottleneck": top["bottleneck"] | {"threads": top["threads"]},
    }
    print(f"\nbottleneck at {top['threads']} threads: {top['bottleneck']['statement']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
