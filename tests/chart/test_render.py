"""The chart without a cluster: lint, rendering, schema refusals, CRD copies, documented values,
and the wiring of every container's environment into the services' own settings classes."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from fileserver_operator.config import OperatorSettings
from pydantic_settings import BaseSettings

from services.downloader.config import Settings as DownloaderSettings
from services.drive.config import DriveSettings
from services.drive_emulator.config import EmulatorSettings
from services.stats.config import Settings as StatsSettings
from services.uploader.config import Settings as UploaderSettings
from tests.chart.conftest import (
    CHART,
    KUBE_VERSION,
    MINIMAL,
    ROOT,
    Render,
    by_kind,
    run_helm,
    secret_values,
    set_args,
)

pytestmark = pytest.mark.unit

PREFIXES: dict[str, type[BaseSettings]] = {
    "FILESERVER_UPLOADER_": UploaderSettings,
    "FILESERVER_DOWNLOADER_": DownloaderSettings,
    "FILESERVER_STATS_": StatsSettings,
    "FILESERVER_DRIVE_EMULATOR_": EmulatorSettings,
    "FILESERVER_DRIVE_": DriveSettings,
}
# Variables the chart defines for its own use: $(VAR) sources and the image's HEALTHCHECK.
CHART_VARS = {
    "FILESERVER_HEALTH_URL", "FILESERVER_REDIS_PASSWORD", "FILESERVER_REDIS_URL",
    "FILESERVER_MONGO_PASSWORD", "FILESERVER_MONGO_URL", "FILESERVER_POSTGRES_PASSWORD",
    "FILESERVER_DATABASE_URL",
}  # fmt: skip
# The services each Deployment runs, and the settings classes they read.
READS = {
    "uploader": [UploaderSettings, DriveSettings],
    "uploader-worker": [UploaderSettings, DriveSettings],
    "downloader": [DownloaderSettings, DriveSettings],
    "stats": [StatsSettings],
    "drive-emulator": [EmulatorSettings],
}


def test_lint_is_clean(helm_bin: Any) -> None:
    proc = run_helm(helm_bin, "lint", "--strict", str(CHART), f"--kube-version={KUBE_VERSION}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout, proc.stdout
    assert "[ERROR]" not in proc.stdout, proc.stdout


def test_default_install_renders_every_component(render: Render) -> None:
    objects = render()
    deployments = by_kind(objects, "Deployment")
    assert sorted(deployments) == sorted(
        f"fs-fileserver-{n}"
        for n in (
            "uploader",
            "uploader-worker",
            "downloader",
            "stats",
            "operator",
            "drive-emulator",
        )
    )
    assert sorted(by_kind(objects, "StatefulSet")) == [
        "fs-fileserver-mongodb", "fs-fileserver-postgresql", "fs-fileserver-redis",
    ]  # fmt: skip
    assert len(by_kind(objects, "PodDisruptionBudget")) == 4
    assert len(by_kind(objects, "NetworkPolicy")) == 10  # one per component, JMeter's included
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["livenessProbe"]["httpGet"]["path"].startswith("/"), name
        assert container["resources"]["limits"]["memory"], name
        assert pod["automountServiceAccountToken"] is name.endswith("operator"), name
        if deployment["spec"].get("replicas", 2) > 1:  # unset: the operator's floor of 2
            assert "podAntiAffinity" in pod["affinity"], name


def test_every_optional_component_can_be_off(render: Render) -> None:
    objects = render(*MINIMAL)
    assert sorted(by_kind(objects, "Deployment")) == [
        "fs-fileserver-downloader", "fs-fileserver-stats",
        "fs-fileserver-uploader", "fs-fileserver-uploader-worker",
    ]  # fmt: skip
    kinds = {o["kind"] for o in objects}
    assert kinds.isdisjoint({"StatefulSet", "NetworkPolicy", "PodDisruptionBudget", "Role", "Job"})
    data = secret_values(objects)
    assert data["database-url"].startswith("postgresql://")
    assert data["mongo-url"].startswith("mongodb://")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["uploader.replicas=-1"], "at '/uploader/replicas': minimum: got -1, want 0"),
        (["downloader.replicas=two"], "at '/downloader/replicas': got string, want integer"),
        (["secrets.create=false"], "at '/secrets/existingSecret'"),
        (["postgresql.enabled=false"], "at '/postgresql/external/url'"),
        (["highAvailability.antiAffinity=always"], "at '/highAvailability/antiAffinity'"),
        (["operator.watch=cluster"], "at '/operator/watch'"),
        (["uploaderr.replicas=1"], "additional properties 'uploaderr' not allowed"),
    ],
)
def test_bad_values_fail_with_the_schema_message(
    helm_bin: Any, values: list[str], message: str
) -> None:
    proc = run_helm(
        helm_bin, "template", "fs", str(CHART), f"--kube-version={KUBE_VERSION}", *set_args(values)
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_chart_crds_are_the_generated_ones() -> None:
    generated = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    assert generated, "crds/ is empty"
    for name in generated:
        chart_copy = CHART / "crds" / name
        assert chart_copy.exists(), f"copy {name} into charts/fileserver/crds/"
        assert chart_copy.read_text() == (ROOT / "crds" / name).read_text(), (
            f"charts/fileserver/crds/{name} is stale: cp crds/{name} charts/fileserver/crds/"
        )
    peering = list(yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()))
    assert {c["metadata"]["name"] for c in peering} == {
        "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev",
    }  # fmt: skip


def test_every_values_key_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z_][\w.-]*:", line) and not line.lstrip().startswith("#"):
            before = lines[i - 1].strip() if i else ""
            if not before.startswith("#") and "#" not in line:
                undocumented.append(f"values.yaml:{i + 1}: {line.strip()}")
    assert not undocumented, "\n".join(undocumented)


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\(([A-Z_]+)\)", lambda m: env[m.group(1)], value)


def _container_env(objects: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    """The environment a container would see: ConfigMap, Secret refs, $(VAR) expansion."""
    (configmap,) = (
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "fs-fileserver"
    )
    secret = secret_values(objects)
    env: dict[str, str] = dict(configmap["data"])
    (container,) = by_kind(objects, "Deployment")[deployment]["spec"]["template"]["spec"][
        "containers"
    ]
    for item in container["env"]:
        if "valueFrom" in item:
            env[item["name"]] = secret[item["valueFrom"]["secretKeyRef"]["key"]]
        else:
            env[item["name"]] = _expand(item["value"], env)
    return env


@pytest.mark.parametrize("component", sorted(READS))
def test_environment_is_what_the_settings_read(
    render: Render, component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render()
    env = _container_env(objects, f"fs-fileserver-{component}")
    # Every variable with a settings prefix names a field of that settings class.
    for name in env:
        if name in CHART_VARS or name.startswith("FILESERVER_OPERATOR_"):
            continue
        prefix = next(p for p in PREFIXES if name.startswith(p))
        field = name.removeprefix(prefix).lower().split("__")[0]
        assert field in PREFIXES[prefix].model_fields, f"{name}: no field {field!r}"
    # And the settings validate with it, outside dev mode (real tokens, DSNs, Fernet key).
    for key in list(__import__("os").environ):
        if key.startswith("FILESERVER_"):
            monkeypatch.delenv(key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for settings_class in READS[component]:
        settings = settings_class()
        assert getattr(settings, "dev_mode", False) is False
        assert getattr(settings, "host", "0.0.0.0") == "0.0.0.0"  # noqa: S104


def test_secret_values_are_generated_and_valid(render: Render) -> None:
    first, second = secret_values(render()), secret_values(render())
    assert first["internal-token"] != second["internal-token"]  # random per first install
    for key in ("uploader-admin-token", "downloader-admin-token", "internal-token"):
        assert len(first[key]) == 40, key
        assert first[key].isalnum(), key
    from cryptography.fernet import Fernet

    Fernet(first["credentials-key"].encode())  # raises if it is not a Fernet key


def test_operator_command_and_scope(render: Render) -> None:
    namespaced = by_kind(render(), "Deployment")["fs-fileserver-operator"]
    (container,) = namespaced["spec"]["template"]["spec"]["containers"]
    assert container["command"][:4] == ["kopf", "run", "-m", "fileserver_operator.main"]
    assert "--namespace=demo" in container["command"]
    assert "--peering=fileserver" in container["command"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["command"]
    objects = render("operator.watch=all", "operator.peering.enabled=false")
    (container,) = by_kind(objects, "Deployment")["fs-fileserver-operator"]["spec"]["template"][
        "spec"
    ]["containers"]
    assert "--all-namespaces" in container["command"]
    assert "--standalone" in container["command"]
    (role,) = by_kind(objects, "ClusterRole").values()
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"driveaccounts", "filereplicas", "deployments"} <= resources
    assert "namespaces" not in resources  # kopf's scanning is off: no cluster-wide listing


SCALED = ["uploader", "uploader-worker", "downloader", "stats"]


def test_the_operator_owns_the_replicas_of_what_it_scales(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render("uploader.replicas=3", "uploaderWorker.maxReplicas=7")
    deployments = by_kind(objects, "Deployment")
    for name in SCALED:  # as with an HPA: `helm upgrade` then leaves the live count alone
        assert "replicas" not in deployments[f"fs-fileserver-{name}"]["spec"], name
    assert deployments["fs-fileserver-operator"]["spec"]["replicas"] == 1
    assert deployments["fs-fileserver-drive-emulator"]["spec"]["replicas"] == 1
    # The operator's floor is the chart's: its settings, read from its own container.
    env = _container_env(objects, "fs-fileserver-operator")
    for key in list(__import__("os").environ):
        if key.startswith("FILESERVER_"):
            monkeypatch.delenv(key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    assert settings.bounds("uploader") == (3, 20)
    assert settings.bounds("uploader-worker") == (2, 7)
    assert settings.bounds("downloader") == (2, 20)
    assert settings.bounds("stats") == (1, 20)
    assert settings.worker_queue_per_pod == 32
    assert set(settings.scaled) == {f"fs-fileserver-{name}" for name in SCALED}
    assert settings.scaled["fs-fileserver-uploader-worker"] == "uploader-worker"
    # ... and its Role may scale exactly those four, by name.
    role = by_kind(objects, "Role")["fs-fileserver-operator"]
    (scaling,) = [r for r in role["rules"] if "deployments/scale" in r["resources"]]
    assert sorted(scaling["resourceNames"]) == sorted(f"fs-fileserver-{n}" for n in SCALED)
    assert scaling["verbs"] == ["get", "patch"]


@pytest.mark.parametrize(
    "values", [["operator.scaleDeployments=false"], ["operator.enabled=false"]]
)
def test_without_the_operator_scaling_the_chart_sets_replicas(
    render: Render, values: list[str]
) -> None:
    deployments = by_kind(render(*values, "uploader.replicas=3"), "Deployment")
    replicas = {n: deployments[f"fs-fileserver-{n}"]["spec"]["replicas"] for n in SCALED}
    assert replicas == {"uploader": 3, "uploader-worker": 2, "downloader": 2, "stats": 1}


def test_a_floor_above_its_ceiling_is_refused(helm_bin: Any) -> None:
    proc = run_helm(
        helm_bin, "template", "fs", str(CHART), f"--kube-version={KUBE_VERSION}",
        *set_args(["downloader.replicas=5", "downloader.maxReplicas=4"]),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "downloader.replicas (5, the operator's floor) exceeds downloader.maxReplicas (4)" in (
        proc.stderr
    )
    unscaled = run_helm(
        helm_bin, "template", "fs", str(CHART), f"--kube-version={KUBE_VERSION}",
        *set_args(["downloader.replicas=5", "downloader.maxReplicas=4",
                   "operator.scaleDeployments=false"]),
    )  # fmt: skip
    assert unscaled.returncode == 0, unscaled.stderr


def _rules(objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, namespace, rule) of every Role and ClusterRole rule the chart renders."""
    return [
        (o["kind"], o["metadata"].get("namespace", ""), rule)
        for o in objects
        if o["kind"] in {"Role", "ClusterRole"}
        for rule in o["rules"]
    ]


@pytest.mark.parametrize("watch", ["release", "all"])
def test_the_operator_may_read_secrets_only_by_name_in_the_credentials_namespace(
    render: Render, watch: str
) -> None:
    objects = render(f"operator.watch={watch}")
    secret_rules = [(k, ns, r) for k, ns, r in _rules(objects) if "secrets" in r["resources"]]
    # One grant: get (no list, no watch: it never sees a Secret no DriveAccount names), and
    # only in the credentials namespace, so neither the release's Secret (tokens, the Fernet
    # key) nor Helm's release Secrets (sh.helm.release.v1.*) in "demo" can be read.
    assert secret_rules == [
        (
            "Role",
            "demo-credentials",
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        )
    ]
    binding = by_kind(objects, "RoleBinding")["fs-fileserver-operator-credentials"]
    assert binding["metadata"]["namespace"] == "demo-credentials"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "fs-fileserver-operator", "namespace": "demo"}
    ]
    assert binding["roleRef"]["name"] == "fs-fileserver-operator-credentials"
    (namespace,) = by_kind(objects, "Namespace").values()
    assert namespace["metadata"]["name"] == "demo-credentials"
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    configmap = by_kind(objects, "ConfigMap")["fs-fileserver"]
    assert configmap["data"]["FILESERVER_OPERATOR_CREDENTIALS_NAMESPACE"] == "demo-credentials"
    # Nothing else the chart binds reads Secrets (the services mount theirs as env).
    assert all("secrets" not in r["resources"] for _, ns, r in _rules(objects) if ns == "demo")


def test_a_credentials_namespace_of_ones_own(render: Render, helm_bin: Any) -> None:
    objects = render(
        "operator.credentials.namespace=pool-secrets", "operator.credentials.createNamespace=false"
    )
    assert "Namespace" not in {o["kind"] for o in objects}
    role = by_kind(objects, "Role")["fs-fileserver-operator-credentials"]
    assert role["metadata"]["namespace"] == "pool-secrets"
    refused = run_helm(
        helm_bin, "template", "fs", str(CHART), "-n", "demo", f"--kube-version={KUBE_VERSION}",
        "--set", "operator.credentials.namespace=demo",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "must not be the release namespace" in refused.stderr
