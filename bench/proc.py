"""CPU time of processes from ``/proc``: what the benchmarks use to say where the time went.

On a shared machine requests/s swing with other people's work; the CPU time a process used is
its own, so shares of CPU per process are the steadier figure (and they name a bottleneck).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children of any of its threads), still running."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:  # exited meanwhile
            continue
        found.append(current)
        for task in tasks:
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def cpu_ticks(pid: int) -> int | None:
    """User + system clock ticks of one process (all its threads), or None once it exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by ``pid`` and the processes below it."""
    return sum(cpu_ticks(p) or 0 for p in descendants(pid)) / TICKS


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU since boot, from ``/proc/stat``: everyone's work."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return total - idle, total


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages, to 2 decimals."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """What the figures were measured on: absolute numbers mean little without it."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "load_average": load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
