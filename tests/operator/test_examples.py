"""The manifests people copy — docs/operator.md's and the chart's examples — are accepted by
the API server with the project's CRDs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fileserver.devstack.servers import KubeAPIServer
from tests.fixtures.stack import Kubectl
from tests.utils.drive import PROJECT_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

EXAMPLES = sorted((PROJECT_ROOT / "charts" / "fileserver" / "examples").glob("*.yaml"))


def doc_manifests(path: Path) -> list[str]:
    """The ```yaml blocks of a document that are Kubernetes objects."""
    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(), flags=re.S)
    return [b for b in blocks if "apiVersion:" in b and "kind:" in b]


def test_docs_operator_has_manifests() -> None:
    assert len(doc_manifests(PROJECT_ROOT / "docs" / "operator.md")) == 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_chart_examples_apply(
    kube: KubeAPIServer, crds: None, kubectl: Kubectl, namespace: str, example: Path
) -> None:
    out = kubectl("apply", "--dry-run=server", f"--namespace={namespace}", "-f", str(example))
    assert "driveaccount.fileserver.io/" in out


def test_docs_examples_apply(
    kube: KubeAPIServer, crds: None, kubectl: Kubectl, namespace: str
) -> None:
    for manifest in doc_manifests(PROJECT_ROOT / "docs" / "operator.md"):
        # The doc elides the credentials and the checksum; fill them with valid stand-ins.
        text = manifest.replace('"…"', '"' + "0" * 64 + '"').replace("…", "x")
        out = kubectl(
            "apply", "--dry-run=server", f"--namespace={namespace}", "-f", "-", stdin=text
        )
        assert "created (server dry run)" in out
