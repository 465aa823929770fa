"""Pure parts of the Uploader: settings refusal, names, ranges, vault, event identity."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.shared.events import FileStatus, ReplicaState
from services.uploader.config import DEV_CREDENTIALS_KEY, Settings
from services.uploader.errors import Invalid
from services.uploader.models import Account, Replica, StoredFile
from services.uploader.relay import account_event, event_id, file_event
from services.uploader.schemas import check_content_type, check_file_name
from services.uploader.service import parse_content_range
from services.uploader.vault import Vault, VaultError

pytestmark = pytest.mark.unit

GOOD = {
    "admin_token": "a" * 24,
    "downloader_internal_token": "b" * 24,
    "credentials_key": Fernet.generate_key().decode(),
}


def test_settings_refuse_default_secrets() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    text = str(caught.value)
    assert "FILESERVER_UPLOADER_ADMIN_TOKEN" in text
    assert "FILESERVER_UPLOADER_CREDENTIALS_KEY" in text
    assert "FILESERVER_UPLOADER_DOWNLOADER_INTERNAL_TOKEN" in text
    with pytest.raises(ValidationError, match="development credentials key"):
        Settings(**{**GOOD, "credentials_key": DEV_CREDENTIALS_KEY})
    with pytest.raises(ValidationError, match="refusing to start"):
        Settings(**{**GOOD, "admin_token": "changeme"})
    assert Settings(**GOOD).admin_token.get_secret_value() == "a" * 24
    assert Settings(dev_mode=True).admin_token.get_secret_value() == "dev-admin-token"


def test_settings_repr_hides_secrets() -> None:
    settings = Settings(**GOOD)
    for secret in GOOD.values():
        assert secret not in repr(settings)


@pytest.mark.parametrize("name", ["a.txt", "Ünïcødé 名前.mp4", "x" * 255, "a b (1).tar.gz"])
def test_good_names(name: str) -> None:
    assert check_file_name(name) == name


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", "a\nb", "a\x00b", ".", "..", " a", "a\u202e"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        check_file_name(name)


def test_content_type_is_normalised() -> None:
    assert check_content_type("Text/Plain; charset=UTF-8") == "text/plain"
    with pytest.raises(ValueError, match="type/subtype"):
        check_content_type("text")


def test_content_range() -> None:
    assert parse_content_range("bytes 0-99/1000", size=1000) == (0, 100)
    assert parse_content_range("bytes 900-999/1000", size=1000) == (900, 1000)
    for bad in ("bytes 0-99/999", "bytes 5-1/1000", "bytes x-1/1000", "items 0-1/1000", None):
        with pytest.raises(Invalid):
            parse_content_range(bad, size=1000)


def test_vault_round_trip_and_wrong_key() -> None:
    vault = Vault(Fernet.generate_key().decode())
    sealed = vault.seal({"refresh_token": "r-secret"})
    assert "r-secret" not in sealed
    assert vault.open(sealed) == {"refresh_token": "r-secret"}
    assert "key" not in repr(vault).replace("<key hidden>", "")
    with pytest.raises(VaultError, match="cannot be decrypted") as caught:
        Vault(Fernet.generate_key().decode()).open(sealed)
    assert "r-secret" not in str(caught.value)


def test_event_ids_are_stable_per_aggregate_and_seq() -> None:
    assert event_id("file:f1", 3) == event_id("file:f1", 3)
    assert event_id("file:f1", 3) != event_id("file:f1", 4)
    assert event_id("file:f1", 3) != event_id("account:f1", 3)
    assert isinstance(event_id("file:f1", 3), uuid.UUID)


def test_events_carry_state_not_credentials() -> None:
    account = Account.model_construct(
        id="a1",
        email="a@example.com",
        credentials_kind="authorized_user",
        credentials="sealed-secret",
        daily_budget_bytes=7,
        draining=True,
        seq=4,
    )
    event = account_event(account)
    assert event.seq == 4
    assert event.state.enabled is False  # draining: out of the Downloader's choices
    assert "sealed-secret" not in event.model_dump_json()

    file = StoredFile.model_construct(
        id="f1",
        name="a.bin",
        size=3,
        content_type="application/octet-stream",
        status=FileStatus.UPLOADED,
        replicas={
            "b": Replica(account_id="b", state=ReplicaState.READY, drive_file_id="d2"),
            "a": Replica(account_id="a", state=ReplicaState.REMOVING, drive_file_id="d1"),
        },
        seq=9,
    )
    event = file_event(file)
    assert event.id == event_id("file:f1", 9)
    assert [(r.account_id, r.state) for r in event.state.replicas] == [
        ("a", ReplicaState.REMOVING),
        ("b", ReplicaState.READY),
    ]
