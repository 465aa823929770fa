"""Generate CustomResourceDefinitions from the typed models: the models are the one source.

Pydantic's JSON Schema is turned into a Kubernetes *structural* schema: references inlined,
``anyOf [X, null]`` reduced to ``X`` (absent means unset), titles dropped, and the resource's
names, printer columns and status subresource added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from apis.common import GROUP, VERSION, Model
from apis.driveaccount import DriveAccount
from apis.filereplica import FileReplica

KEEP = {
    "type",
    "properties",
    "items",
    "required",
    "description",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "default",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-validations",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes structural schema equivalent to one pydantic JSON Schema node."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return structural({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, defs)
    if "anyOf" in schema and not schema.get("x-kubernetes-int-or-string"):
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"only Optional[X] unions map to a structural schema: {schema}")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        if rest.get("default") is None:
            rest.pop("default", None)
        return structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in KEEP:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "anyOf":
            out[key] = [{k: v for k, v in opt.items() if k in KEEP} for opt in value]
        else:
            out[key] = value
    if "properties" in out:
        out.setdefault("type", "object")
    return out


@dataclass(frozen=True)
class Resource:
    model: type[Model]
    kind: str
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[dict[str, Any], ...]

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def crd(self) -> dict[str, Any]:
        schema = self.model.model_json_schema(by_alias=True, mode="validation")
        body = structural(schema, schema.get("$defs", {}))
        properties = body["properties"]
        # kopf records handler progress and may write fields of its own into status.
        properties["status"]["x-kubernetes-preserve-unknown-fields"] = True
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{self.plural}.{GROUP}"},
            "spec": {
                "group": GROUP,
                "scope": "Namespaced",
                "names": {
                    "kind": self.kind,
                    "listKind": f"{self.kind}List",
                    "plural": self.plural,
                    "singular": self.singular,
                    "shortNames": list(self.short_names),
                    "categories": ["fileserver"],
                },
                "versions": [
                    {
                        "name": VERSION,
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "additionalPrinterColumns": list(self.columns),
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "description": (self.model.__doc__ or self.kind).strip(),
                                "required": ["spec"],
                                "properties": {
                                    "apiVersion": {"type": "string"},
                                    "kind": {"type": "string"},
                                    "metadata": {"type": "object"},
                                    "spec": properties["spec"],
                                    "status": properties["status"],
                                },
                            }
                        },
                    }
                ],
            },
        }


def _ready(path: str = '.status.conditions[?(@.type=="Ready")].status') -> dict[str, Any]:
    return {"name": "Ready", "type": "string", "jsonPath": path}


RESOURCES = (
    Resource(
        DriveAccount,
        DriveAccount.KIND,
        DriveAccount.PLURAL,
        DriveAccount.SHORT_NAMES,
        (
            {"name": "Email", "type": "string", "jsonPath": ".spec.email"},
            {"name": "Budget", "type": "string", "jsonPath": ".spec.dailyDownloadBudget"},
            {
                "name": "Used-Today",
                "type": "integer",
                "format": "int64",
                "jsonPath": ".status.usedTodayBytes",
            },
            {
                "name": "Remaining",
                "type": "integer",
                "format": "int64",
                "jsonPath": ".status.remainingTodayBytes",
            },
            _ready(),
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    ),
    Resource(
        FileReplica,
        FileReplica.KIND,
        FileReplica.PLURAL,
        FileReplica.SHORT_NAMES,
        (
            {"name": "File", "type": "string", "jsonPath": ".spec.name"},
            {"name": "Size", "type": "integer", "format": "int64", "jsonPath": ".spec.size"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
            {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredReplicas"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    ),
)

HEADER = "# Generated by `python -m apis` from the models in apis/. Do not edit by hand.\n"


def render(resource: Resource) -> str:
    """The CRD's YAML file content."""
    return HEADER + yaml.safe_dump(resource.crd(), sort_keys=False, width=100)


def crd_files(root: Path) -> dict[Path, str]:
    """Every generated file under ``root`` (the ``crds/`` folder) and its content."""
    return {root / f"{r.plural}.{GROUP}.yaml": render(r) for r in RESOURCES}
