"""Start and stop server processes through pid files, never by process name.

A pid file records the pid and the kernel's start time of the process, so a pid reused by an
unrelated process after a reboot or a crash is never mistaken for ours and never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fileserver.devstack.errors import DevstackError

# Servers outlive the call that starts them; their Popen objects are kept here so that this
# process can reap them when it stops them (no zombies, no "still running" warnings).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        _reap(pid)
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect a zombie child of this process so that it disappears from /proc."""
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class ProcessSpec:
    """How to run one server: its command line, environment and the user to run it as."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None


class ManagedProcess:
    """One server process, known only through its pid file in ``run_dir``."""

    def __init__(self, name: str, run_dir: Path) -> None:
        self.name = name
        self.run_dir = run_dir
        self.pid_file = run_dir / f"{name}.pid"
        self.log_file = run_dir / f"{name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed)."""
        try:
            record = json.loads(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        pid, ticks = int(record["pid"]), int(record["start_ticks"])
        if _start_ticks(pid) != ticks:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def running(self) -> bool:
        """Whether the process this pid file names is alive."""
        return self.pid() is not None

    def start(self, spec: ProcessSpec) -> int:
        """Start the process in a session of its own, logging to ``<name>.log``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **spec.env}
        with self.log_file.open("ab") as log:
            log.write(
                f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(spec.argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                env=env,
                user=spec.user,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        ticks = _start_ticks(proc.pid)
        if ticks is None:
            raise DevstackError(f"{self.name} exited at once; see {self.log_file}")
        self.pid_file.write_text(json.dumps({"pid": proc.pid, "start_ticks": ticks}))
        return proc.pid

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL it after ``timeout``; True if one was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        self._signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _start_ticks(pid) is not None:
            time.sleep(0.1)
        if _start_ticks(pid) is not None:
            self._signal_group(pid, signal.SIGKILL)
            while _start_ticks(pid) is not None:
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the process group at once (fault-injection tests)."""
        pid = self.pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGKILL)
            while _start_ticks(pid) is not None:
                time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, to explain a failed start."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
