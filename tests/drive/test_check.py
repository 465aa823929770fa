"""``fileserver drive check``: says what works with a credentials file, or why it does not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from services.drive.cli import drive_app
from tests.utils.drive import EmulatorAdmin, free_port

pytestmark = pytest.mark.integration

runner = CliRunner(env={"COLUMNS": "240"})


async def check(*args: str) -> Result:
    """Run ``drive check`` in a thread: the command runs its own event loop."""
    return await asyncio.to_thread(runner.invoke, drive_app, ["check", *args])


def write(tmp_path: Path, credentials: dict[str, object]) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(credentials))
    return path


@pytest.mark.parametrize("kind", ["authorized_user", "service_account"])
async def test_working_credentials(
    emulator_admin: EmulatorAdmin, tmp_path: Path, kind: str
) -> None:
    account = await emulator_admin.create_account(kind)
    path = write(tmp_path, account.credentials)
    result = await check("--credentials", str(path), "--endpoint", emulator_admin.url)
    assert result.exit_code == 0, result.output
    assert account.email in result.output
    assert "These credentials work." in result.output
    assert "FAILED" not in result.output
    assert (await emulator_admin.account(account.id))["usage"]["stored_bytes"] == 0


async def test_revoked_credentials_are_explained(
    emulator_admin: EmulatorAdmin, tmp_path: Path
) -> None:
    account = await emulator_admin.create_account()
    await emulator_admin.revoke(account.id)
    path = write(tmp_path, account.credentials)
    result = await check("--credentials", str(path), "--endpoint", emulator_admin.url)
    assert result.exit_code == 1
    assert "credentials were refused" in result.output
    assert "invalid_grant" in result.output
    assert str(account.credentials["client_secret"]) not in result.output


async def test_full_storage_fails_the_upload_step(
    emulator_admin: EmulatorAdmin, tmp_path: Path
) -> None:
    account = await emulator_admin.create_account(storage_bytes=1000)
    path = write(tmp_path, account.credentials)
    result = await check("--credentials", str(path), "--endpoint", emulator_admin.url)
    assert result.exit_code == 1
    assert "storage" in result.output
    assert "Not usable." in result.output


async def test_unreachable_endpoint_is_explained(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"type": "emulator_token", "token": "ya29.whatever"},
    )
    endpoint = f"http://127.0.0.1:{free_port()}/"
    result = await check("--credentials", str(path), "--endpoint", endpoint)
    assert result.exit_code == 1
    assert "cannot talk to" in result.output


async def test_unparsable_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    result = await check("--credentials", str(path))
    assert result.exit_code == 1
    assert "not valid JSON" in result.output
