"""Devstack process handling: pid files, port conflicts and failed starts leave nothing behind."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fileserver.devstack.config import DevstackSettings, Ports
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.install import check_go
from fileserver.devstack.process import ManagedProcess, ProcessSpec
from fileserver.devstack.servers import Docker, port_in_use
from fileserver.devstack.stack import Stack
from fileserver.devstack.versions import Versions


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process the devstack did not start."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.unit
def test_start_and_stop_through_pid_file(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path)
    pid = proc.start(ProcessSpec(argv=["sleep", "300"]))
    assert proc.pid() == pid
    assert json.loads(proc.pid_file.read_text())["pid"] == pid
    assert proc.stop(timeout=5) is True
    assert proc.pid() is None
    assert not proc.pid_file.exists()
    assert proc.stop() is False  # nothing left to stop


@pytest.mark.unit
def test_stale_pid_file_never_signals_another_process(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    proc = ManagedProcess("server", tmp_path)
    # The pid exists but belongs to a process started at another time: pid reuse.
    proc.pid_file.write_text(json.dumps({"pid": sleeper.pid, "start_ticks": 1}))
    assert proc.pid() is None
    assert proc.stop() is False
    assert sleeper.poll() is None  # still alive
    assert not proc.pid_file.exists()


@pytest.mark.unit
def test_go_older_than_pinned_is_a_clear_error(tmp_path: Path) -> None:
    versions = Versions.load(Path("versions.toml"))
    too_new = Versions(**{**versions.__dict__, "go_toolchain": "9.99"})
    with pytest.raises(DevstackError) as failed:
        check_go(too_new)
    assert "older than the 9.99" in str(failed.value)
    assert failed.value.fix is not None


@pytest.mark.unit
def test_missing_version_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "versions.toml"
    bad.write_text('[debian]\npostgresql = "15"\n')
    with pytest.raises(ValueError, match="missing version key 'redis'"):
        Versions.load(bad)


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Stack]:
    """A devstack with its own state folder and free ports, apart from the session's."""
    ports = Ports(redis=_free_port(), prometheus=_free_port())
    stack = Stack(DevstackSettings(state_dir=tmp_path / "state", ports=ports), cluster=False)
    yield stack
    stack.down()


@pytest.mark.integration
def test_port_in_use_is_reported_and_nothing_starts(private_stack: Stack) -> None:
    port = private_stack.settings.ports.redis
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(DevstackError) as failed:
            private_stack.up(["redis"])
    message = str(failed.value)
    assert f"port {port} is already in use" in message
    assert "FILESERVER_DEV_PORT_REDIS" in message
    assert not private_stack.process("redis").running()


@pytest.mark.integration
def test_failed_start_stops_what_the_call_started(private_stack: Stack) -> None:
    busy = private_stack.settings.ports.prometheus
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", busy))
        squatter.listen()
        with pytest.raises(DevstackError, match="prometheus"):
            private_stack.up(["redis", "prometheus"])
    redis_port = private_stack.settings.ports.redis
    assert not private_stack.process("redis").running()
    assert not port_in_use(redis_port)


@pytest.mark.integration
def test_down_stops_only_what_up_started(
    private_stack: Stack, sleeper: subprocess.Popen[bytes]
) -> None:
    assert private_stack.up(["redis"]) == ["redis"]
    assert private_stack.up(["redis"]) == []  # already running: nothing new
    assert private_stack.down() == ["redis"]
    assert not port_in_use(private_stack.settings.ports.redis)
    assert sleeper.poll() is None


@pytest.mark.integration
def test_server_dying_at_start_reports_its_log(
    private_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = private_stack.servers["redis"]
    monkeypatch.setattr(redis, "spec", lambda: ProcessSpec(["redis-server", "--port", "x"]))
    with pytest.raises(DevstackError) as failed:
        private_stack.up(["redis"])
    assert "redis exited during start-up" in str(failed.value)
    assert "port" in str(failed.value).lower()  # redis-server's own complaint, from its log
    assert not private_stack.process("redis").running()


@pytest.mark.integration
def test_unusable_data_folder_is_a_clear_error(private_stack: Stack) -> None:
    redis = private_stack.servers["redis"]
    redis.data.parent.mkdir(parents=True)
    redis.data.write_text("a file where the data folder belongs")
    with pytest.raises(DevstackError, match="redis could not be started"):
        private_stack.up(["redis"])
    assert not private_stack.process("redis").running()


@pytest.mark.integration
def test_postgres_starts_from_a_state_folder_its_user_cannot_enter(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    settings = DevstackSettings(state_dir=private / "state", ports=Ports(postgres=_free_port()))
    stack = Stack(settings, cluster=False)
    try:
        assert stack.up(["postgres"]) == ["postgres"]
        assert stack.servers["postgres"].ready()
    finally:
        stack.reset()
    assert not stack.servers["postgres"].data.exists()


@pytest.mark.unit
def test_reset_keeps_the_container_engines_images(tmp_path: Path) -> None:
    """``dev reset`` deletes every server's data, but the engine's data root is a cache: kind's
    node volumes and every built image live there (a reset once wiped a running cluster's etcd)."""
    settings = DevstackSettings(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")
    stack = Stack(settings, cluster=False)
    docker = stack.server(Docker)
    (docker.data_root / "volumes").mkdir(parents=True)
    (docker.data_root / "volumes" / "node-var").write_text("etcd")
    (settings.state_dir / "redis").mkdir(parents=True)
    stack.reset()
    assert not settings.state_dir.exists()
    assert (docker.data_root / "volumes" / "node-var").read_text() == "etcd"
