"""``fileserver accounts add|list|show|update|remove`` against the Uploader, with
credentials issued by the private system's Drive emulator."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fileserver.cli import app
from tests.utils.local_system import PrivateSystem

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_account_lifecycle(system: PrivateSystem, cli_env: dict[str, str], tmp_path: Path) -> None:
    local = system.local_system()
    email = f"cli-{uuid.uuid4().hex[:8]}@fileserver.local"
    created = httpx.post(
        f"{local.service('drive-emulator').url}/_emulator/accounts",
        json={"email": email, "display_name": "cli"},
        headers={"Authorization": f"Bearer {local.secrets.emulator_admin_token}"},
    )
    created.raise_for_status()
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(created.json()["credentials"]))

    def run(*args: str) -> str:
        result = runner.invoke(app, ["accounts", *args], env=cli_env)
        assert result.exit_code == 0, result.output
        return result.stdout

    added = json.loads(run("add", email, "--credentials", str(credentials), "--json"))
    assert added["email"] == email
    assert "credentials" not in added  # write-only
    listed = json.loads(run("list", "--json"))
    assert email in [a["email"] for a in listed["items"]]
    assert json.loads(run("show", email, "--json"))["id"] == added["id"]

    updated = json.loads(run("update", email, "--daily-budget-gb", "5", "--disable", "--json"))
    assert updated["daily_budget_bytes"] == 5 * 10**9
    assert updated["enabled"] is False

    assert "draining" in run("remove", added["id"])
