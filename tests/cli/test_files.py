"""``fileserver files …`` and ``reports …`` through Typer's runner against real services."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fileserver.cli import app
from fileserver.client.api import FileserverClient
from fileserver.client.config import ClientConfig
from fileserver.client.errors import ExitCode

pytestmark = pytest.mark.integration
runner = CliRunner()


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.stdout


def run_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(run(env, *args, "--json"))


def _config(env: dict[str, str]) -> ClientConfig:
    return ClientConfig.resolve(
        uploader_url=env["FILESERVER_URL_UPLOADER"],
        downloader_url=env["FILESERVER_URL_DOWNLOADER"],
        uploader_token=env["FILESERVER_TOKEN_UPLOADER"],
        downloader_token=env["FILESERVER_TOKEN_DOWNLOADER"],
    )


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def test_upload_wait_show_download_delete(
    cli_env: dict[str, str], payload: Path, tmp_path: Path
) -> None:
    [uploaded] = run_json(cli_env, "files", "upload", str(payload), "--wait", "--timeout", "120")
    assert uploaded["status"] == "uploaded"
    assert uploaded["sha256"] == hashlib.sha256(payload.read_bytes()).hexdigest()

    shown = run_json(cli_env, "files", "show", uploaded["id"])
    assert shown["id"] == uploaded["id"]
    listed = run_json(cli_env, "files", "list", "--prefix", "payload")
    assert uploaded["id"] in [f["id"] for f in listed["items"]]

    target = tmp_path / "copy.bin"
    run(cli_env, "files", "download", uploaded["id"], "-o", str(target))
    assert target.read_bytes() == payload.read_bytes()

    assert "deleting" in run(cli_env, "files", "delete", uploaded["id"])


def test_parallel_download_reassembles_the_bytes_and_spreads_the_charge(
    cli_env: dict[str, str], payload: Path, tmp_path: Path
) -> None:
    [file] = run_json(cli_env, "files", "upload", str(payload), "--wait", "--timeout", "120")
    with FileserverClient(_config(cli_env)) as api:  # the Downloader learns replicas by events
        assert len(api.wait_rotation(file["id"], accounts=3, timeout=60)) == 3
    target = tmp_path / "parallel.bin"

    result = run_json(
        cli_env, "files", "download", file["id"], "-o", str(target), "--parallel", "4"
    )

    assert target.read_bytes() == payload.read_bytes()
    ranges = result["ranges"]
    assert len(ranges) == 4
    assert sum(r["charged_bytes"] for r in ranges) == payload.stat().st_size
    assert sorted((r["offset"], r["length"]) for r in ranges)[0][0] == 0
    assert len({r["account_id"] for r in ranges}) >= 2  # several accounts served it


def test_batch_upload_registers_every_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    paths = [tmp_path / f"batch-{i}.txt" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_text(f"file {i}\n" * (i + 1))

    files = run_json(cli_env, "files", "upload", *map(str, paths))

    assert sorted(f["name"] for f in files) == [p.name for p in paths]
    assert all(f["sha256"] for f in files)


def test_resumable_upload_continues_a_session(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "resumed.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    with FileserverClient(_config(cli_env)) as api:
        session = api.create_session(
            name=path.name,
            size=path.stat().st_size,
            content_type="application/octet-stream",
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        first = path.read_bytes()[: session.chunk_bytes]
        assert api.put_range(session, 0, first).offset == session.chunk_bytes

    [file] = run_json(cli_env, "files", "upload", str(path), "--resume", session.id)

    assert file["id"] == session.id
    assert file["size"] == path.stat().st_size
    assert file["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_reports_as_csv_and_json(cli_env: dict[str, str], payload: Path) -> None:
    [file] = run_json(cli_env, "files", "upload", str(payload), "--wait", "--timeout", "120")
    rows = list(csv.DictReader(io.StringIO(run(cli_env, "reports", "files", "-f", "csv"))))
    assert file["id"] in [r["id"] for r in rows]
    accounts = json.loads(run(cli_env, "reports", "accounts", "-f", "json"))
    assert accounts["total"] >= 3
    assert "email" in run(cli_env, "reports", "accounts")


@pytest.mark.parametrize(
    ("args", "override", "code", "message"),
    [
        (
            ["accounts", "list"],
            {"FILESERVER_TOKEN_UPLOADER": "wrong-token"},
            ExitCode.UNAUTHORIZED,
            "HTTP 401",
        ),
        (
            ["files", "list"],
            {"FILESERVER_URL_UPLOADER": "http://127.0.0.1:9"},
            ExitCode.FAILED,
            "no answer from http://127.0.0.1:9",
        ),
        (["files", "show", "no-such-file"], {}, ExitCode.NOT_FOUND, "HTTP 404"),
        (["reports", "files", "--sort", "nonsense"], {}, ExitCode.USAGE, "HTTP 422"),
        (["files", "--config", "/nonexistent.toml", "list"], {}, ExitCode.USAGE, "does not exist"),
        (["files", "download", "x", "--parallel", "0"], {}, ExitCode.USAGE, "--parallel"),
    ],
)
def test_errors_are_one_clear_line_and_a_documented_code(
    cli_env: dict[str, str], args: list[str], override: dict[str, str], code: int, message: str
) -> None:
    result = runner.invoke(app, args, env=cli_env | override)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    if code != ExitCode.USAGE or "HTTP" in message or "exist" in message:
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1
