"""The CRDs in crds/ are generated from apis/ and the API server enforces their schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from apis.common import format_quantity, parse_quantity
from apis.crd import crd_files
from apis.driveaccount import DriveAccount
from apis.filereplica import FileReplica
from tests.fixtures.stack import Kubectl

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.unit
def test_checked_in_crds_match_the_models() -> None:
    expected = crd_files(CRDS)
    assert sorted(CRDS.glob("*.yaml")) == sorted(expected), "stray or missing files in crds/"
    for path, text in expected.items():
        assert path.read_text() == text, f"{path.name} is stale: run `uv run python -m apis`"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "value"),
    [("100G", 100 * 10**9), ("15Gi", 15 * 2**30), ("1.5k", 1500), ("1024", 1024), (7, 7)],
)
def test_quantities_parse_to_bytes(text: str | int, value: int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["-1G", "12X", "", "G", -5, "1e3"])
def test_bad_quantities_are_refused(bad: str | int) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(bad)


@pytest.mark.unit
def test_quantity_format_round_trips() -> None:
    for value in (0, 1, 999, 10**9, 100 * 10**9, 15 * 10**9, 1234567):
        assert parse_quantity(format_quantity(value)) == value
    assert format_quantity(100 * 10**9) == "100G"


@pytest.mark.unit
def test_models_apply_defaults_and_refuse_unknown_fields() -> None:
    account = DriveAccount.model_validate(
        {"spec": {"email": "a@example.com", "credentialsSecretRef": {"name": "acc-a"}}}
    )
    assert account.spec.daily_download_budget == 100 * 10**9
    assert account.spec.credentials_secret_ref.key == "credentials.json"
    with pytest.raises(ValidationError, match="budget"):
        DriveAccount.model_validate(
            {"spec": {"email": "a@example.com", "credentialsSecretRef": {"name": "a"}, "budget": 1}}
        )


def _account(name: str, **spec: object) -> str:
    body = {
        "apiVersion": "fileserver.io/v1alpha1",
        "kind": "DriveAccount",
        "metadata": {"name": name},
        "spec": {"email": f"{name}@example.com", "credentialsSecretRef": {"name": name}, **spec},
    }
    return json.dumps(body)


@pytest.fixture(scope="module")
def crds_applied(kubectl: Kubectl) -> None:
    for path in sorted(CRDS.glob("*.yaml")):
        kubectl("apply", "-f", str(path))
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


@pytest.mark.cluster
@pytest.mark.usefixtures("crds_applied")
def test_api_server_enforces_the_drive_account_schema(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", stdin=_account("good", dailyDownloadBudget="50G"))
    listed = kubectl("-n", namespace, "get", "driveaccounts")
    assert "EMAIL" in listed
    assert "BUDGET" in listed
    assert "good@example.com" in listed
    assert "50G" in listed

    for bad, complaint in (
        (_account("neg", dailyDownloadBudget="-5G"), "dailyDownloadBudget"),
        (_account("negint", dailyDownloadBudget=-5), "dailyDownloadBudget"),
        (_account("mail", email="not-an-address"), "spec.email"),
        (_account("extra", colour="blue"), "colour"),
    ):
        out = kubectl(
            "-n", namespace, "apply", "--validate=strict", "-f", "-", stdin=bad, check=False
        )
        assert complaint in out, out

    changed = _account("good", email="other@example.com")
    out = kubectl("-n", namespace, "apply", "-f", "-", stdin=changed, check=False)
    assert "email is immutable" in out


@pytest.mark.cluster
@pytest.mark.usefixtures("crds_applied")
def test_file_replica_placement_rules(kubectl: Kubectl, namespace: str) -> None:
    def replica(name: str, placement: dict[str, object]) -> str:
        return json.dumps(
            {
                "apiVersion": "fileserver.io/v1alpha1",
                "kind": "FileReplica",
                "metadata": {"name": name},
                "spec": {"fileId": name, "name": "movie.mp4", "size": 10, "placement": placement},
            }
        )

    kubectl("-n", namespace, "apply", "-f", "-", stdin=replica("f1", {"mode": "All"}))
    kubectl(
        "-n", namespace, "apply", "-f", "-", stdin=replica("f2", {"mode": "Count", "replicas": 2})
    )
    out = kubectl(
        "-n", namespace, "apply", "-f", "-", stdin=replica("f3", {"mode": "Count"}), check=False
    )
    assert "placement.replicas is required" in out
    out = kubectl(
        "-n", namespace, "apply", "-f", "-", stdin=replica("f4", {"mode": "Some"}), check=False
    )
    assert "Unsupported value" in out
    names = kubectl("-n", namespace, "get", "fileserver", "-o", "name").split()
    assert sorted(names) == ["filereplica.fileserver.io/f1", "filereplica.fileserver.io/f2"]
    stored = FileReplica.model_validate(
        {"spec": json.loads(kubectl("-n", namespace, "get", "fr", "f2", "-o", "json"))["spec"]}
    )
    assert stored.spec.placement.replicas == 2
