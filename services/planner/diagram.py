"""The infrastructure diagram of one plan: every component a box, the data flows as arrows.

Each box shows its units, its binding limit's utilisation and its monthly cost, coloured by how
close it is to the limit; the bottleneck gets a red frame. The nodes are drawn as the frame the
services run in, and the file bytes go from the Drive pool straight to the clients, around it,
which is the point of the design. Drawn with matplotlib on the Agg canvas (no display, no system
packages); SVG keeps its text as text so the labels can be searched.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as MplPath

from services.planner.model import Component
from services.planner.plan import Plan
from services.planner.report import fmt_bytes, fmt_num, fmt_pct, fmt_usd

_BOX_W, _BOX_H = 15.0, 9.5
# Centres in a 100 × 65 drawing; the nodes' frame spans x 21–80, y 4–57.
_PLACES = {
    "uploader": (31, 47),
    "mongodb": (50.5, 47),
    "replication-workers": (70, 47),
    "downloader": (31, 29),
    "redis": (50.5, 31),
    "stats": (70, 29),
    "postgresql": (31, 12),
    "prometheus": (50.5, 12),
    "operator": (70, 12),
    "drive-pool": (91.5, 36),
}
_CLIENTS = (8.0, 36.0)
_RED = "#c1121f"


def _fill(utilisation: float) -> str:
    if utilisation >= 1:
        return "#ffb3b3"
    return "#ffe8a3" if utilisation >= 0.6 else "#d8f3dc"


def _box(ax: Axes, c: Component, p: Plan, bottleneck: bool) -> None:
    x, y = _PLACES[c.name]
    w, h = (_BOX_W, 15.0) if c.name == "drive-pool" else (_BOX_W, _BOX_H)
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.3,rounding_size=1",
            facecolor=_fill(c.utilisation),
            edgecolor=_RED if bottleneck else "#333333",
            linewidth=3 if bottleneck else 1,
            zorder=2,
        )
    )
    unit = c.unit[:-1] if c.units == 1 and c.unit.endswith("s") else c.unit
    lines = [
        f"{fmt_num(c.units)} {unit}",
        f"{c.binding.name}: {fmt_pct(c.utilisation)}",
        f"{fmt_usd(p.cost_of(c.name))}/month",
    ]
    if c.name == "drive-pool":
        lines.insert(1, p.drive_plan.name)
    ax.text(
        x,
        y + h / 2 - 1.6,
        c.label,
        ha="center",
        va="center",
        fontsize=8,
        fontweight="bold",
        zorder=3,
    )
    ax.text(
        x,
        y - 0.8,
        "\n".join(lines),
        ha="center",
        va="center",
        fontsize=6.2,
        linespacing=1.35,
        zorder=3,
        wrap=False,
    )
    if bottleneck:
        ax.text(
            x,
            y - h / 2 - 1.3,
            "BOTTLENECK",
            ha="center",
            va="center",
            fontsize=7,
            color=_RED,
            fontweight="bold",
            zorder=3,
        )


def _arrow(
    ax: Axes,
    points: list[tuple[float, float]],
    label: str = "",
    *,
    width: float = 1.0,
    color: str = "#333333",
    dashed: bool = False,
    label_at: tuple[float, float] | None = None,
    fontsize: float = 5.8,
) -> None:
    """An arrow along ``points`` (a straight line, or a polyline around boxes), labelled at
    ``label_at`` or else the middle of its middle segment."""
    ax.add_patch(
        FancyArrowPatch(
            path=MplPath(points),
            arrowstyle="-|>",
            mutation_scale=10 + 3 * width,
            linewidth=width,
            color=color,
            linestyle="--" if dashed else "-",
            zorder=1,
        )
    )
    if label:
        i = (len(points) - 1) // 2
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        x, y = label_at or ((x0 + x1) / 2, (y0 + y1) / 2)
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=color,
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.85},
        )


def _flows(ax: Axes, p: Plan) -> None:
    t = p.capacity.traffic
    _arrow(ax, [(14, 39), (23.5, 46)], "uploads (REST)")
    _arrow(ax, [(14, 33), (23.5, 29)], f"URL requests\n{fmt_num(t.peak_api_rps)} req/s peak")
    _arrow(ax, [(38.5, 47), (43, 47)], "stage\n(GridFS)")
    _arrow(ax, [(31, 42.25), (31, 33.75)], "events (outbox)")
    _arrow(ax, [(36, 42.25), (47, 35.75)], "replicate jobs")
    _arrow(ax, [(54, 35.75), (66, 42.25)], "jobs")
    _arrow(
        ax,
        [(77.5, 46), (84, 41)],
        f"upload once\n+ files.copy\n{fmt_bytes(t.new_bytes_per_day)}/day",
        width=1.5,
    )
    _arrow(ax, [(31, 24.25), (31, 16.75)], "issued URLs")
    _arrow(ax, [(38.5, 30), (43, 31)], "stats\nbatches")
    _arrow(ax, [(58, 31), (62.5, 30)], "stats\njobs")
    _arrow(
        ax,
        [(66, 24.25), (66, 20.5), (35, 20.5), (35, 24.25)],
        "aggregates (REST)",
        label_at=(41, 20.5),
    )
    _arrow(ax, [(50.5, 16.75), (50.5, 26.25)], "scrapes /metrics", dashed=True)
    _arrow(ax, [(70, 16.75), (70, 24.25)], "scales\nDeployments", dashed=True)
    _arrow(ax, [(77.5, 12), (91.5, 12), (91.5, 28.5)], "quota, placement", dashed=True)
    _arrow(
        ax,
        [(91.5, 43.5), (91.5, 62), (8, 62), (8, 42)],
        "file bytes, straight from Drive to the clients: "
        f"{fmt_bytes(t.download_bytes_per_day)}/day, "
        f"{fmt_num(t.peak_download_bits_per_s / 1e9)} Gbit/s peak",
        width=3.5,
        color="#1d4e89",
        fontsize=8,
    )


def _frame(ax: Axes, p: Plan, bottleneck: bool) -> None:
    nodes = p.capacity.component("nodes")
    w, cap = p.workload, p.capacity
    ax.add_patch(
        FancyBboxPatch(
            (21, 4),
            59,
            53,
            boxstyle="round,pad=0.4,rounding_size=2",
            facecolor="#f4f6f8",
            edgecolor=_RED if bottleneck else "#7a869a",
            linewidth=3 if bottleneck else 1.2,
            linestyle="--",
            zorder=0,
        )
    )
    allowed = "" if w.max_nodes is None else f" of {fmt_num(w.max_nodes)} allowed"
    ax.text(
        22,
        55.2,
        nodes.label,
        fontsize=8,
        fontweight="bold",
        va="center",
        zorder=3,
        color=_RED if bottleneck else "#333333",
    )
    ax.text(
        22,
        52.8,
        f"{fmt_num(cap.nodes_needed)} × {w.node.name} needed{allowed}; "
        f"{nodes.binding.name}: {fmt_pct(nodes.utilisation)}; "
        f"{fmt_usd(p.cost_of('nodes'))}/month besides the shares below"
        + ("  BOTTLENECK" if bottleneck else ""),
        fontsize=6.2,
        va="center",
        zorder=3,
        color=_RED if bottleneck else "#333333",
    )


def draw(p: Plan, path: Path, *, profile: str, prices_as_of: str) -> None:
    """Write ``p``'s diagram to ``path`` (``.svg`` or ``.png``)."""
    if path.suffix.lower() not in (".svg", ".png"):
        raise ValueError(f"the diagram is written as SVG or PNG, not {path.suffix or path.name!r}")
    cap = p.capacity
    worst = cap.bottleneck
    fig = Figure(figsize=(16, 10.5))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.03, 0.98, 0.88))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 65)
    ax.set_axis_off()
    _frame(ax, p, worst.name == "nodes")
    for c in cap.components:
        if c.name != "nodes":
            _box(ax, c, p, c is worst)
    cx, cy = _CLIENTS
    ax.add_patch(
        FancyBboxPatch(
            (cx - 6, cy - 6),
            12,
            12,
            boxstyle="round,pad=0.3",
            facecolor="white",
            edgecolor="#333333",
            zorder=2,
        )
    )
    ax.text(
        cx,
        cy,
        f"Clients\n{fmt_num(p.workload.users)}\nmonthly users",
        ha="center",
        va="center",
        fontsize=7.5,
        zorder=3,
    )
    _flows(ax, p)
    fig.suptitle(
        f"fileserver, profile {profile}: {fmt_num(p.workload.users)} users, "
        f"{fmt_usd(p.total_usd_month)}/month; bottleneck: {worst.label} "
        f"({worst.binding.name} at {fmt_pct(worst.utilisation)})",
        fontsize=12,
        fontweight="bold",
    )
    fig.text(
        0.5,
        0.015,
        "Box colour: green under 60 % of its limit, amber under 100 %, red past it. "
        f"Costs: list prices as of {prices_as_of} (estimates); node cost shared by "
        "reserved vCPU. Dashed arrows: control.",
        ha="center",
        fontsize=7,
        color="#555555",
    )
    labels = "; ".join(c.label for c in cap.components)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fileserver"}):
        if path.suffix.lower() == ".svg":
            fig.savefig(path, format="svg", metadata={"Date": None, "Description": labels})
        else:
            fig.savefig(path, format="png", dpi=130, metadata={"Description": labels})
