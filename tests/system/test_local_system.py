"""``fileserver up``, ``status``, ``demo`` and ``down`` as a user runs them: subprocesses
against a private system (own state folder, free ports), in this order, on one system.

``down`` must leave nothing behind: every pid recorded before it is gone and every port free.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from fileserver.devstack.servers import port_in_use
from tests.system.processes import alive
from tests.utils.local_system import DATA_SERVERS, PrivateSystem

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSystem]:
    private = PrivateSystem.allocate(tmp_path_factory.mktemp("system") / "state")
    yield private
    private.fileserver("down")  # in case a test failed before test_down ran


@pytest.fixture(scope="module")
def up(system: PrivateSystem) -> subprocess.CompletedProcess[str]:
    result = system.fileserver("up", "--detach", "--accounts", "3", timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_up_prints_every_endpoint_and_the_admin_credential(
    system: PrivateSystem, up: subprocess.CompletedProcess[str]
) -> None:
    local = system.local_system()
    for service in local.services:
        assert service.url in up.stdout
    assert f"127.0.0.1:{system.ports['prometheus']}" in up.stdout
    assert local.secrets.uploader_admin_token in up.stdout


def test_status_reports_every_component_healthy(
    system: PrivateSystem, up: subprocess.CompletedProcess[str]
) -> None:
    result = system.fileserver("status")
    assert result.returncode == 0, result.stdout + result.stderr
    names = [s.name for s in system.local_system().services]
    rows = [line for line in result.stdout.splitlines() if any(n in line for n in names)]
    assert len(rows) == len(names)
    assert all("ready" in row for row in rows), result.stdout
    assert all(s.ready for s in system.local_system().status())


def test_demo_runs_end_to_end(system: PrivateSystem, up: subprocess.CompletedProcess[str]) -> None:
    result = system.fileserver("demo", "--big-mb", "6", "--fetches", "6", "--parallel", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert sum(line.endswith(" verified") for line in out.splitlines()) == 3, out
    assert "demo complete" in out
    served = next(line for line in out.splitlines() if line.startswith("served by"))
    assert int(served.split()[2]) >= 2, served  # the round robin used several accounts
    assert "demo-6mb.bin" in out
    assert "━" not in result.stderr  # piped: no progress bars


def test_down_leaves_no_process_or_port(
    system: PrivateSystem, up: subprocess.CompletedProcess[str]
) -> None:
    local = system.local_system()
    pids = [local.process(s).pid() for s in local.services]
    pids += [local.stack.process(name).pid() for name in DATA_SERVERS]
    assert all(pids), pids
    assert all(port_in_use(port) for port in system.all_ports())

    result = system.fileserver("down")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [pid for pid in pids if pid and alive(pid)] == []
    assert [port for port in system.all_ports() if port_in_use(port)] == []
    assert all(not s.pid for s in local.status())
