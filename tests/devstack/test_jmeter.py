"""JMeter, assembled from Maven Central by the devstack, runs a plan and judges responses."""

from __future__ import annotations

import csv
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fileserver.devstack.jmeter import ensure_jmeter
from fileserver.devstack.stack import Stack

pytestmark = pytest.mark.integration
PLAN = Path(__file__).parent / "plans" / "smoke.jmx"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the test"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads JMeter's results, not the server's log."""


@pytest.fixture(scope="module")
def jmeter_home() -> Path:
    stack = Stack(cluster=False)
    return ensure_jmeter(stack.versions, stack.settings.cache_dir)


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def _run(home: Path, tmp_path: Path, port: int, expect: str) -> list[dict[str, str]]:
    results = tmp_path / f"{expect.replace(' ', '_')}.jtl"
    subprocess.run(
        [
            "java",
            "-jar",
            str(home / "bin" / "ApacheJMeter.jar"),
            "-n",
            "-t",
            str(PLAN),
            "-l",
            str(results),
            "-j",
            str(tmp_path / "jmeter.log"),
            f"-Jport={port}",
            "-Jpath=/",
            f"-Jexpect={expect}",
            "-Jjmeter.save.saveservice.output_format=csv",
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    with results.open() as fh:
        return list(csv.DictReader(fh))


def test_plan_runs_and_assertions_judge_bodies(
    jmeter_home: Path, server: int, tmp_path: Path
) -> None:
    passing = _run(jmeter_home, tmp_path, server, "hello from")
    assert len(passing) == 6  # 2 threads x 3 iterations
    assert {row["success"] for row in passing} == {"true"}
    assert {row["responseCode"] for row in passing} == {"200"}

    failing = _run(jmeter_home, tmp_path, server, "goodbye")
    assert len(failing) == 6
    assert {row["success"] for row in failing} == {"false"}
    assert all("goodbye" in row["failureMessage"] for row in failing)
