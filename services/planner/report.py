"""Render a :class:`~services.planner.plan.Study` as a rich table, JSON or Markdown.

The three formats show the same rows, defined once in :func:`comparison_rows`, so that the table
an operator reads in a terminal and the Markdown pasted into docs/capacity.md cannot drift apart.
JSON carries the raw numbers (bytes, per-second rates, dollars) for other tools.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.console import Console
from rich.table import Table

from services.planner.model import MAX_USERS, Component, Placement
from services.planner.plan import POOL, R2, Plan, Study
from services.planner.prices import Price, TieredPrice

_SI = ("", "k", "M", "G", "T", "P", "E", "Z")


def fmt_bytes(value: float) -> str:
    """SI bytes with three significant digits: ``16.4 TB``."""
    for prefix in _SI:
        if abs(value) < 999.5 or prefix == _SI[-1]:
            return f"{value:.3g} {prefix}B"
        value /= 1000
    raise AssertionError("unreachable")


def fmt_num(value: float) -> str:
    """A count or rate: thousands separators, three significant digits below 100."""
    if value >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def fmt_usd(value: float) -> str:
    """Dollars: whole dollars from $100, cents below, two significant digits below a cent."""
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 100:
        return f"{sign}${value:,.0f}"
    if value >= 0.01 or value == 0:
        return f"{sign}${value:.2f}"
    return f"{sign}${value:.2g}"


def fmt_pct(value: float) -> str:
    """A utilisation as a percentage."""
    return f"{value * 100:,.0f}%" if value >= 0.1 else f"{value * 100:.2g}%"


def _over(c: Component) -> str:
    return f"{c.label}: {c.binding.name} {fmt_pct(c.utilisation)}"


def comparison_rows(s: Study) -> list[tuple[str, list[str]]]:
    """``(label, one cell per scale)``; a label with no cells is a section heading."""
    plans = s.plans

    def row(label: str, cell: Callable[[Plan], str]) -> tuple[str, list[str]]:
        return label, [cell(p) for p in plans]

    rows = [
        ("Traffic", []),
        row("monthly active users", lambda p: fmt_num(p.workload.users)),
        row("downloads / day", lambda p: fmt_num(p.capacity.traffic.downloads_per_day)),
        row("bytes served / day", lambda p: fmt_bytes(p.capacity.traffic.download_bytes_per_day)),
        row(
            "peak bandwidth",
            lambda p: fmt_num(p.capacity.traffic.peak_download_bits_per_s / 1e9) + " Gbit/s",
        ),
        row("peak API requests/s", lambda p: fmt_num(p.capacity.traffic.peak_api_rps)),
        row("peak URL requests/s", lambda p: fmt_num(p.capacity.traffic.peak_url_rps)),
        ("Drive pool", []),
        row("placement", lambda p: p.capacity.pool.placement.value),
        row("accounts by bandwidth", lambda p: fmt_num(p.capacity.pool.accounts_by_bandwidth)),
        row("accounts by storage", lambda p: fmt_num(p.capacity.pool.accounts_by_storage)),
        row("accounts needed", lambda p: fmt_num(p.capacity.pool.accounts)),
        row("copies of a hot file", lambda p: fmt_num(p.capacity.pool.hot_file_replicas)),
        row("daily budget used", lambda p: fmt_pct(p.capacity.pool.budget_utilisation)),
        row("account plan", lambda p: p.drive_plan.name),
        ("Pods and nodes", []),
        row("Downloader pods", lambda p: fmt_num(p.capacity.pods.downloader)),
        row("Uploader pods", lambda p: fmt_num(p.capacity.pods.uploader)),
        row("Stats pods", lambda p: fmt_num(p.capacity.pods.stats)),
        row("replication workers", lambda p: fmt_num(p.capacity.pods.replication_workers)),
        row("nodes needed (allowed)", _nodes),
        ("Stores", []),
        row("PostgreSQL size / peak writes", _postgres),
        row(
            "MongoDB + GridFS staging",
            lambda p: fmt_bytes(
                p.capacity.stores.mongo_bytes + p.capacity.stores.gridfs_staging_bytes
            ),
        ),
        row("Redis memory", lambda p: fmt_bytes(p.capacity.stores.redis_bytes)),
        row("Prometheus series", lambda p: fmt_num(p.capacity.stores.prometheus_series)),
        ("Transfer from the nodes", []),
        row("egress / month", _egress),
        row(
            "replication, upload once + copy",
            lambda p: fmt_bytes(p.capacity.replication.upload_once_bytes_month) + "/month",
        ),
        row(
            "replication, naive",
            lambda p: fmt_bytes(p.capacity.replication.naive_bytes_month) + "/month",
        ),
        row("new content room, once / naive", _room),
        ("Verdict", []),
        row("bottleneck", lambda p: _over(p.capacity.bottleneck)),
        row(
            "past their limits",
            lambda p: (
                "; ".join(_over(c) for c in p.capacity.components if c.utilisation >= 1) or "none"
            ),
        ),
        row("total / month", lambda p: fmt_usd(p.total_usd_month)),
        row("per user / month", lambda p: fmt_usd(p.total_usd_month / p.workload.users)),
    ]
    rows.append(("Monthly cost per component", []))
    rows += [row(c.label, partial(_component_cost, c.component)) for c in plans[0].costs]
    rows.append(("Delivering the bytes (monthly)", []))
    rows += [row(d.name, partial(_delivery_cost, d.name)) for d in plans[0].delivery]
    rows.append(row("cheapest", lambda p: p.cheapest.name))
    rows.append(row("pool beats R2 while an account costs under", _break_even))
    return rows


def _component_cost(component: str, p: Plan) -> str:
    return fmt_usd(p.cost_of(component))


def _delivery_cost(name: str, p: Plan) -> str:
    return fmt_usd(p.delivery_of(name).usd_month)


def _break_even(p: Plan) -> str:
    usd = p.break_even_account_usd(R2)
    return "never: R2 is cheaper even with free accounts" if usd < 0 else f"{fmt_usd(usd)}/month"


def _nodes(p: Plan) -> str:
    w, cap = p.workload, p.capacity
    allowed = "any" if w.max_nodes is None else fmt_num(w.max_nodes)
    return f"{fmt_num(cap.nodes_needed)} ({allowed}) × {w.node.name}"


def _postgres(p: Plan) -> str:
    s = p.capacity.stores
    return f"{fmt_bytes(s.postgres_bytes)} / {fmt_num(s.postgres_writes_per_s)} rows/s"


def _egress(p: Plan) -> str:
    cap = p.capacity
    allowance = cap.nodes * p.workload.node.transfer_bytes_month
    out = fmt_bytes(cap.egress_bytes_month)
    return f"{out} of {fmt_bytes(allowance)}" if allowance else f"{out} (billed per GB)"


def _room(p: Plan) -> str:
    r = p.capacity.replication
    if r.max_new_bytes_month_upload_once is None or r.max_new_bytes_month_naive is None:
        return "no allowance"
    once, naive = r.max_new_bytes_month_upload_once, r.max_new_bytes_month_naive
    return f"{fmt_bytes(once)} / {fmt_bytes(naive)}"


def notes(p: Plan) -> list[str]:
    """What is true at this scale that was not at the previous one, in sentences."""
    w, cap = p.workload, p.capacity
    pool = cap.pool
    out = []
    if pool.placement is Placement.ALL:
        out.append(
            f"Every file on every account: {fmt_num(pool.accounts)} copies of the "
            f"{fmt_bytes(w.catalog_bytes)} catalog, {fmt_pct(pool.storage_utilisation)} of "
            "each account's storage."
        )
    else:
        out.append(
            f"Placement by demand: {fmt_num(pool.copies)} copies ({fmt_bytes(pool.stored_bytes)})"
            f" of a {fmt_bytes(w.catalog_bytes)} catalog; each hot file on "
            f"{fmt_num(pool.hot_file_replicas)} accounts."
        )
    if pool.accounts == pool.accounts_by_bandwidth:
        why = "bandwidth: the daily download budget"
    elif pool.placement is Placement.ALL:
        why = f"the minimum of {w.min_replicas} copies of every file"
    elif pool.accounts == pool.accounts_by_storage:
        why = "storage: the copies do not fit in fewer"
    else:
        why = "the copies of the hottest file, each on its own account"
    out.append(f"{fmt_num(pool.accounts)} Drive accounts, set by {why}.")
    if w.max_nodes is not None and cap.nodes_needed > w.max_nodes:
        out.append(
            f"The load needs {fmt_num(cap.nodes_needed)} × {w.node.name}; the profile allows "
            f"{fmt_num(w.max_nodes)}: the single-server premise no longer holds."
        )
    r = cap.replication
    out.append(
        f"Replication sends {fmt_bytes(r.upload_once_bytes_month)}/month uploading each file "
        f"once and copying inside Drive, against {fmt_bytes(r.naive_bytes_month)}/month "
        "uploading every copy."
    )
    out.extend(
        f"{c.label} is past its limit ({c.binding.name} at {fmt_pct(c.utilisation)})."
        for c in cap.components
        if c.utilisation >= 1
    )
    cheapest = p.cheapest
    pool_usd = p.delivery_of(POOL).usd_month
    if cheapest.name == POOL:
        out.append(f"The pool is the cheapest delivery ({fmt_usd(pool_usd)}/month).")
    else:
        out.append(
            f"{cheapest.name} would deliver the bytes for {fmt_usd(cheapest.usd_month)}/month "
            f"against the pool's {fmt_usd(pool_usd)}."
        )
    return out


def _price_rows(s: Study) -> list[tuple[str, str, str]]:
    rows = []
    for entry in s.prices.entries():
        if isinstance(entry, TieredPrice):
            tiers = ", ".join(
                f"${t.usd:g} "
                + ("beyond" if t.up_to == float("inf") else f"to {fmt_bytes(t.up_to)}")
                for t in entry.tiers
            )
            rows.append((entry.item, f"per {entry.per}: {tiers}", entry.source))
        else:
            rows.append((entry.item, f"${entry.usd:,.4g} per {entry.per}", entry.source))
    return rows


def render_table(s: Study, console: Console) -> None:
    """Print the study as rich tables."""
    table = Table(title=f"Capacity plan, profile {s.profile}", show_lines=False)
    table.add_column("")
    for p in s.plans:
        table.add_column(f"{fmt_num(p.workload.users)} users", justify="right")
    for label, cells in comparison_rows(s):
        if cells:
            table.add_row(label, *cells)
        else:
            table.add_section()
            table.add_row(f"[bold]{label}[/bold]", *[""] * len(s.plans))
    console.print(table)
    growth = Table(title="What breaks first as users grow")
    for column in ("users", "component", "limit"):
        growth.add_column(column)
    for b in s.breaking_points:
        growth.add_row(fmt_num(b.users), b.label, b.constraint)
    console.print(growth if s.breaking_points else f"Nothing breaks up to {MAX_USERS:,} users.")
    cross = Table(title="Crossovers: the Drive pool against delivery without it")
    cross.add_column("alternative")
    cross.add_column("who is cheaper")
    for x in s.crossovers:
        cross.add_row(x.alternative, x.summary)
    console.print(cross)
    for p in s.plans:
        console.print(f"[bold]{fmt_num(p.workload.users)} users[/bold]")
        for line in notes(p):
            console.print(f"  • {line}")
    console.print(f"Prices as of {s.prices.as_of}: {s.prices.basis} (`--format md` lists them).")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def render_markdown(s: Study) -> str:
    """The study as Markdown (what docs/capacity.md pastes)."""
    header = ["", *(f"{fmt_num(p.workload.users)} users" for p in s.plans)]
    rows = [
        [f"**{label}**" if not cells else label, *(cells or [""] * len(s.plans))]
        for label, cells in comparison_rows(s)
    ]
    out = [f"### Capacity plan, profile {s.profile}", "", *_md_table(header, rows), ""]
    out += ["#### What breaks first as users grow", ""]
    if s.breaking_points:
        out += _md_table(
            ["users", "component", "limit"],
            [[fmt_num(b.users), b.label, b.constraint] for b in s.breaking_points],
        )
    else:
        out.append(f"Nothing breaks up to {MAX_USERS:,} users.")
    out += ["", "#### Crossovers: the Drive pool against delivery without it", ""]
    out += _md_table(
        ["alternative", "who is cheaper"], [[x.alternative, x.summary] for x in s.crossovers]
    )
    for p in s.plans:
        out += ["", f"#### {fmt_num(p.workload.users)} users", ""]
        out += [f"- {line}" for line in notes(p)]
    out += ["", f"#### Prices (as of {s.prices.as_of}; estimates)", "", s.prices.basis, ""]
    out += _md_table(["item", "list price", "source"], [list(r) for r in _price_rows(s)])
    return "\n".join(out) + "\n"


def _component_json(c: Component, p: Plan) -> dict[str, Any]:
    return {
        "name": c.name,
        "label": c.label,
        "units": c.units,
        "unit": c.unit,
        "scales_out": c.scales_out,
        "vcpu": round(c.vcpu, 3),
        "memory_bytes": round(c.memory_bytes),
        "disk_bytes": round(c.disk_bytes),
        "utilisation": c.utilisation,
        "binding": c.binding.name,
        "constraints": [
            {
                "name": k.name,
                "demand": k.demand,
                "capacity": k.capacity,
                "unit": k.unit,
                "utilisation": k.utilisation,
            }
            for k in c.constraints
        ],
        "usd_month": round(p.cost_of(c.name), 2),
    }


def _plan_json(p: Plan) -> dict[str, Any]:
    cap, t = p.capacity, p.capacity.traffic
    bottleneck = cap.bottleneck
    return {
        "users": p.workload.users,
        "traffic": {
            "downloads_per_day": t.downloads_per_day,
            "download_bytes_per_day": t.download_bytes_per_day,
            "url_requests_per_day": t.url_requests_per_day,
            "api_requests_per_day": t.api_requests_per_day,
            "peak_api_rps": t.peak_api_rps,
            "peak_url_rps": t.peak_url_rps,
            "peak_download_bits_per_s": t.peak_download_bits_per_s,
            "new_bytes_per_day": t.new_bytes_per_day,
        },
        "pool": {
            "placement": cap.pool.placement.value,
            "accounts_by_bandwidth": cap.pool.accounts_by_bandwidth,
            "accounts_by_storage": cap.pool.accounts_by_storage,
            "accounts": cap.pool.accounts,
            "copies": cap.pool.copies,
            "hot_file_replicas": cap.pool.hot_file_replicas,
            "stored_bytes": cap.pool.stored_bytes,
            "budget_utilisation": cap.pool.budget_utilisation,
            "account_plan": p.drive_plan.name,
        },
        "pods": vars(cap.pods),
        "nodes": {
            "needed": cap.nodes_needed,
            "used": cap.nodes,
            "max": p.workload.max_nodes,
            "type": p.workload.node.name,
        },
        "stores": vars(cap.stores),
        "egress_bytes_month": cap.egress_bytes_month,
        "replication": vars(cap.replication),
        "components": [_component_json(c, p) for c in cap.components],
        "bottleneck": {
            "component": bottleneck.name,
            "constraint": bottleneck.binding.name,
            "utilisation": bottleneck.utilisation,
        },
        "total_usd_month": round(p.total_usd_month, 2),
        "delivery": [
            {
                "name": d.name,
                "usd_month": round(d.usd_month, 2),
                "basis": d.basis,
                **(
                    {}
                    if d.name == POOL
                    else {"break_even_account_usd": round(p.break_even_account_usd(d.name), 4)}
                ),
            }
            for d in p.delivery
        ],
        "cheapest_delivery": p.cheapest.name,
        "notes": notes(p),
    }


def _price_json(entry: Price | TieredPrice) -> dict[str, Any]:
    if isinstance(entry, TieredPrice):
        tiers = [
            {"up_to": None if t.up_to == float("inf") else t.up_to, "usd": t.usd}
            for t in entry.tiers
        ]
        return {
            "item": entry.item,
            "per": entry.per,
            "unit": entry.unit,
            "free": entry.free,
            "tiers": tiers,
            "source": entry.source,
        }
    return {
        "item": entry.item,
        "usd": entry.usd,
        "per": entry.per,
        "unit": entry.unit,
        "free": entry.free,
        "source": entry.source,
    }


def to_json(s: Study) -> dict[str, Any]:
    """The study as plain data (bytes, per-second rates, dollars)."""
    return {
        "profile": s.profile,
        "scales": [_plan_json(p) for p in s.plans],
        "breaking_points": [vars(b) for b in s.breaking_points],
        "crossovers": [
            {
                "alternative": x.alternative,
                "pool_cheaper_at_one_user": x.pool_cheaper_at_one_user,
                "switches": list(x.switches),
                "summary": x.summary,
            }
            for x in s.crossovers
        ],
        "prices": {
            "as_of": s.prices.as_of,
            "basis": s.prices.basis,
            "entries": [_price_json(e) for e in s.prices.entries()],
        },
    }
