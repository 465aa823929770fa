"""The DriveAccount sync without a cluster: where it reads the credentials Secret, and that a
Secret the operator may not read becomes a condition (a status written, no error raised: the
handler does not crash-loop on a missing grant), with nothing sent to the Uploader."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fileserver_operator.config import OperatorSettings, get_settings
from fileserver_operator.kube import Forbidden

pytestmark = pytest.mark.unit

SPEC = {"email": "a@example.com", "credentialsSecretRef": {"name": "drive-a"}}


class FakeKube:
    """Answers ``secret()`` from a dict; a name in ``forbidden`` is refused as RBAC would."""

    def __init__(self, secrets: dict[tuple[str, str], dict[str, Any]], forbidden: set[str]):
        self.secrets = secrets
        self.forbidden = forbidden
        self.reads: list[tuple[str, str]] = []

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((namespace, name))
        if name in self.forbidden:
            raise Forbidden(f"get secret {name!r} in namespace {namespace!r}")
        return self.secrets.get((namespace, name))


class FakeUploader:
    """An Uploader that knows no account and records what it was asked to create."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def account(self, account_id: str) -> None:
        return None

    async def account_by_email(self, email: str) -> None:
        return None

    async def create_account(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.created.append(payload)
        return {"id": "acc-1", "managed_by": "fileserver-operator", **payload}

    async def check_account(self, account_id: str) -> dict[str, Any]:
        return {"ok": True}


class FakeDownloader:
    async def account_figures(self, account_id: str) -> None:
        return None


@pytest.fixture
def driveaccount(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The handler module, imported with development settings (it reads them at import)."""
    monkeypatch.setenv("FILESERVER_OPERATOR_DEV_MODE", "true")
    get_settings.cache_clear()
    yield importlib.import_module("fileserver_operator.handlers.driveaccount")
    get_settings.cache_clear()


def _state(kube: FakeKube, credentials_namespace: str | None) -> SimpleNamespace:
    settings = OperatorSettings(dev_mode=True, credentials_namespace=credentials_namespace)
    return SimpleNamespace(
        settings=settings, kube=kube, uploader=FakeUploader(), downloader=FakeDownloader()
    )


async def _sync(module: ModuleType, state: SimpleNamespace) -> dict[str, Any]:
    status: dict[str, Any] = await module.sync(
        name="a", namespace="fileserver", spec=SPEC, status={}, generation=1, state=state
    )
    return status


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


async def test_a_secret_the_operator_may_not_read_is_a_condition(
    driveaccount: ModuleType,
) -> None:
    kube = FakeKube({}, forbidden={"drive-a"})
    state = _state(kube, "fileserver-credentials")
    status = await _sync(driveaccount, state)
    got = _conditions(status)
    assert got["CredentialsValid"][:2] == ("False", "SecretForbidden")
    assert (
        "may not read Secret 'drive-a' in namespace 'fileserver-credentials'"
        in (got["CredentialsValid"][2])
    )
    assert "operator.credentials.namespace" in got["CredentialsValid"][2]
    assert got["Ready"][:2] == ("False", "NotRegistered")
    assert state.uploader.created == []  # nothing registered without credentials


async def test_the_secret_is_read_by_name_in_the_credentials_namespace(
    driveaccount: ModuleType,
) -> None:
    secret = {
        "metadata": {"uid": "u", "resourceVersion": "3"},
        "data": {"credentials.json": base64.b64encode(json.dumps({"t": 1}).encode()).decode()},
    }
    kube = FakeKube({("fileserver-credentials", "drive-a"): secret}, forbidden=set())
    state = _state(kube, "fileserver-credentials")
    status = await _sync(driveaccount, state)
    assert kube.reads == [("fileserver-credentials", "drive-a")]  # not the DriveAccount's own
    assert _conditions(status)["CredentialsValid"][:2] == ("True", "DriveAccepted")
    assert state.uploader.created[0]["credentials"] == {"t": 1}
    assert status["credentialsVersion"] == "u/3"
    # Without a credentials namespace (a plain `kopf run`), the DriveAccount's namespace.
    other = FakeKube({}, forbidden=set())
    await _sync(driveaccount, _state(other, None))
    assert other.reads == [("fileserver", "drive-a")]


def test_no_handler_watches_or_lists_secrets(driveaccount: ModuleType) -> None:
    """RBAC grants only `get` on Secrets: a kopf handler on them would list and watch."""
    import kopf

    registry = kopf.get_default_registry()
    selectors = [
        str(h.selector)
        for reg in (registry._watching, registry._changing, registry._spawning, registry._indexing)
        for h in reg._handlers
    ]
    assert any("driveaccounts" in s for s in selectors), selectors
    assert not [s for s in selectors if "secrets" in s], selectors
