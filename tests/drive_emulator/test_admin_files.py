"""The admin listing of an account's files: what consistency checks compare against."""

from __future__ import annotations

import pytest

from tests.drive_emulator.conftest import MakeDrive
from tests.utils.drive import EmulatorAdmin

pytestmark = pytest.mark.integration


async def test_lists_exactly_the_accounts_files(drive: MakeDrive, admin: EmulatorAdmin) -> None:
    owner = await drive()
    neighbour = await drive()
    kept = await owner.upload(b"kept", name="kept.bin")
    gone = await owner.upload(b"gone", name="gone.bin")
    await neighbour.upload(b"other", name="other.bin")
    assert (await owner.http.delete(f"/drive/v3/files/{gone['id']}")).status_code == 204

    listed = await admin.files(owner.account.id)

    assert [(f["id"], f["name"], f["size"]) for f in listed] == [(kept["id"], "kept.bin", 4)]


async def test_unknown_account_is_404(admin: EmulatorAdmin) -> None:
    answer = await admin.http.get("/_emulator/accounts/nobody/files")
    assert answer.status_code == 404
