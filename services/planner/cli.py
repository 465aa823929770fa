"""``fileserver plan``: how many Drive accounts, pods and dollars for N users; what breaks first.

One command answers it for several scales at once, in a terminal table, JSON for other tools or
Markdown for the docs, and draws the infrastructure diagram of one scale. ``--set`` changes any
scalar input of the profile, so a disagreement with an assumption is one flag away.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from apis.common import parse_quantity
from services.planner.model import PlanError, Workload
from services.planner.plan import plan as plan_for
from services.planner.plan import study
from services.planner.prices import PRICES
from services.planner.profiles import PROFILES
from services.planner.report import render_markdown, render_table, to_json


class Profile(StrEnum):
    """The seeds' workloads."""

    SEED_000 = "seed-000"
    SEED_001 = "seed-001"


class Format(StrEnum):
    """How the comparison is printed."""

    TABLE = "table"
    JSON = "json"
    MD = "md"


DIAGRAM_FORMATS = (".svg", ".png")
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}
_NOT_SETTABLE = ("users", "mix", "node")


def parse_users(text: str, option: str = "--users") -> list[int]:
    """``"1000,1M,1B"`` → ``[1000, 1000000, 1000000000]`` (suffixes k, M, B or G)."""
    out = []
    for item in text.split(","):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMbBgG]?)", item.strip().replace("_", ""))
        if match is None:
            raise typer.BadParameter(
                f"{item.strip()!r} is not a user count such as 1000, 1M or 1B",
                param_hint=option,
            )
        value = float(match.group(1)) * _SUFFIXES[match.group(2).lower()]
        if not value.is_integer():
            raise typer.BadParameter(
                f"{item.strip()!r} is not a whole number of users", param_hint=option
            )
        out.append(int(value))
    return out


def _convert(name: str, current: object, text: str) -> object:
    if name == "max_nodes":
        return None if text.lower() in {"none", "any"} else int(text)
    if isinstance(current, StrEnum):
        return type(current)(text)
    if name.endswith("_bytes"):
        return parse_quantity(text)
    if isinstance(current, int):
        return int(text)
    return float(text)


def apply_settings(template: Workload, settings: list[str]) -> Workload:
    """``template`` with ``name=value`` settings applied and validated."""
    settable = {
        f.name: getattr(template, f.name) for f in fields(template) if f.name not in _NOT_SETTABLE
    }
    changes = {}
    for item in settings:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint="--set")
        if name not in settable:
            raise typer.BadParameter(
                f"{name!r} cannot be set; these can: {', '.join(sorted(settable))}",
                param_hint="--set",
            )
        try:
            changes[name] = _convert(name, settable[name], text.strip())
        except ValueError as exc:
            raise typer.BadParameter(f"{name}: {exc}", param_hint="--set") from exc
    try:
        return replace(template, **changes)  # type: ignore[arg-type]
    except PlanError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from exc


def plan(
    users: Annotated[
        str, typer.Option(help="User counts to plan for, comma-separated (1000, 1M, 1B).")
    ] = "1000,1000000,1000000000",
    profile: Annotated[Profile, typer.Option(help="Which seed's workload.")] = Profile.SEED_001,
    output_format: Annotated[
        Format, typer.Option("--format", help="table (terminal), json or md (Markdown).")
    ] = Format.TABLE,
    diagram: Annotated[
        Path | None, typer.Option(help="Draw the infrastructure diagram here (.svg or .png).")
    ] = None,
    scale: Annotated[
        str | None, typer.Option(help="User count the diagram shows (default: the largest).")
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="Change an input of the profile: name=value (repeatable)."),
    ] = None,
) -> None:
    """How many Drive accounts, pods and dollars for N users, and what breaks first."""
    counts = parse_users(users)
    if diagram is not None and diagram.suffix.lower() not in DIAGRAM_FORMATS:
        raise typer.BadParameter("the diagram is written as .svg or .png", param_hint="--diagram")
    try:
        template = PROFILES[profile.value](counts[0])
        scales = [replace(template, users=n).users for n in counts]
    except PlanError as exc:
        raise typer.BadParameter(str(exc), param_hint="--users") from exc
    template = apply_settings(template, settings or [])
    try:
        result = study(profile.value, template, scales, PRICES)
    except PlanError as exc:  # the settings passed alone but not with the price table
        raise typer.BadParameter(str(exc), param_hint="--set") from exc
    if output_format is Format.JSON:
        typer.echo(json.dumps(to_json(result), indent=2))
    elif output_format is Format.MD:
        typer.echo(render_markdown(result), nl=False)
    else:
        render_table(result, Console(width=None if sys.stdout.isatty() else 160))
    if diagram is not None:
        drawn = max(scales) if scale is None else parse_users(scale, "--scale")[0]
        try:
            chosen = plan_for(replace(template, users=drawn), PRICES)
        except PlanError as exc:
            raise typer.BadParameter(str(exc), param_hint="--scale") from exc
        # matplotlib takes seconds to import: only a diagram pays for it, not every command.
        from services.planner.diagram import draw

        draw(chosen, diagram, profile=profile.value, prices_as_of=PRICES.as_of)
        typer.echo(f"diagram of {drawn:,} users written to {diagram}", err=True)
