"""Progress bars as a user sees them: drawn on a terminal, absent when output is piped.

``fileserver files upload`` runs as a subprocess, once under a pseudo-terminal and once with
pipes; only the first may carry a progress bar.
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.utils.local_system import FILESERVER, PrivateSystem

pytestmark = pytest.mark.integration
BAR = "━"  # rich's bar segment


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "progress.bin"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    return path


def _env(system: PrivateSystem, cli_env: dict[str, str]) -> dict[str, str]:
    return system.env | cli_env | {"TERM": "xterm-256color", "COLUMNS": "120"}


def test_progress_bar_on_a_terminal(
    system: PrivateSystem, cli_env: dict[str, str], tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(FILESERVER), "files", "upload", str(_file(tmp_path))],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(system, cli_env),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert "upload progress.bin" in text
    assert BAR in text.split("upload progress.bin", 1)[1].splitlines()[0]


def test_no_progress_when_piped(
    system: PrivateSystem, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = system.fileserver(
        "files", "upload", str(_file(tmp_path)), "--json", env=_env(system, cli_env)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert '"name": "progress.bin"' in result.stdout
