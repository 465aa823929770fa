"""Types shared by the custom resources: conditions, quantities and the camelCase base model."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "fileserver.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"


def parse_quantity(value: int | str) -> int:
    """Bytes of a non-negative Kubernetes quantity such as ``100G``, ``15Gi`` or ``1024``."""
    if isinstance(value, bool):
        raise ValueError("a quantity is a number of bytes or a string such as '100G'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a quantity cannot be negative")
        return value
    match = re.fullmatch(QUANTITY_PATTERN, value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a quantity such as '100G' or '15Gi'")
    number = value.strip()[: len(value.strip()) - len(match.group(2) or "")]
    return int(Decimal(number) * _SUFFIXES[match.group(2) or ""])


def format_quantity(value: int) -> str:
    """The shortest exact decimal-suffixed form of ``value`` bytes (``100000000000`` → ``100G``)."""
    for suffix in ("E", "P", "T", "G", "M", "k"):
        if value and value % _SUFFIXES[suffix] == 0:
            return f"{value // _SUFFIXES[suffix]}{suffix}"
    return str(value)


Quantity = Annotated[
    int,
    BeforeValidator(parse_quantity),
    WithJsonSchema(
        {
            # The exact form Kubernetes accepts for int-or-string; pattern and minimum each
            # apply only to the branch of their type.
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "minimum": 0,
        }
    ),
]
"""Bytes, written in manifests as an integer or a Kubernetes quantity string."""


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_k8s(self) -> dict[str, Any]:
        """The resource's JSON form for the Kubernetes API."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """A Kubernetes-style condition (metav1.Condition)."""

    type: str = Field(max_length=316, pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    status: ConditionStatus
    reason: str = Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime
    observed_generation: int | None = Field(default=None, ge=0)
