"""A plan: the capacity model priced against the price table, at several scales, with the
crossovers against delivery without a Drive pool.

The capacity model says what is needed; this module says what it costs a month and whether the
Drive pool is still the cheapest way to deliver the bytes. Node cost is split across the
components on the nodes in proportion to the vCPUs they reserve; the nodes' own line carries what
is nobody's: idle headroom, transfer beyond the allowance or egress fees, the control plane.
The pool's delivery cost (its accounts) is compared with object stores without egress fees, a
CDN and plain cloud egress, each fed the same bytes and requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.planner.model import (
    CAPACITIES,
    DAYS_PER_MONTH,
    MAX_USERS,
    BreakingPoint,
    Capacities,
    CapacityPlan,
    Hosting,
    Workload,
    breaking_points,
    capacity,
)
from services.planner.prices import PRICES, DrivePlan, PriceTable

POOL = "Drive pool (this design)"
R2 = "Cloudflare R2 (no egress fees)"
B2 = "Backblaze B2"
CDN = "CDN (CloudFront) + S3 origin"
EGRESS = "Cloud egress (S3 direct)"
ALTERNATIVES = (R2, B2, CDN, EGRESS)


@dataclass(frozen=True)
class Cost:
    """One component's monthly cost and how it was reached."""

    component: str
    label: str
    usd_month: float
    basis: str


@dataclass(frozen=True)
class Delivery:
    """One way to deliver the month's downloads and what it costs."""

    name: str
    usd_month: float
    basis: str


@dataclass(frozen=True)
class Plan:
    """A workload's capacity, its monthly cost per component, and the delivery alternatives."""

    capacity: CapacityPlan
    drive_plan: DrivePlan
    account_overhead_usd: float
    costs: tuple[Cost, ...]
    delivery: tuple[Delivery, ...]
    """The pool first, then :data:`ALTERNATIVES` in order."""

    @property
    def workload(self) -> Workload:
        """The workload planned for."""
        return self.capacity.workload

    @property
    def total_usd_month(self) -> float:
        """Everything, a month."""
        return sum(c.usd_month for c in self.costs)

    def cost_of(self, component: str) -> float:
        """Monthly dollars of one component."""
        return next(c.usd_month for c in self.costs if c.component == component)

    def delivery_of(self, name: str) -> Delivery:
        """The delivery option called ``name``."""
        return next(d for d in self.delivery if d.name == name)

    @property
    def cheapest(self) -> Delivery:
        """The cheapest way to deliver the bytes (the pool wins a tie)."""
        return min(self.delivery, key=lambda d: d.usd_month)

    def break_even_account_usd(self, alternative: str) -> float:
        """What running one account may cost a month before the pool costs as much as
        ``alternative`` (negative: the alternative is cheaper even with accounts free to run)."""
        accounts = self.capacity.pool.accounts
        pool_without_overhead = self.delivery[0].usd_month - accounts * self.account_overhead_usd
        return (self.delivery_of(alternative).usd_month - pool_without_overhead) / accounts


def _costs(cap: CapacityPlan, prices: PriceTable, drive: DrivePlan) -> tuple[Cost, ...]:
    w = cap.workload
    vps = w.hosting is Hosting.VPS
    node_price = prices.vps_node if vps else prices.cloud_node
    volume = prices.vps_volume if vps else prices.cloud_volume
    # Priced at the nodes the load needs, even past ``max_nodes``: the plan then says what
    # the load would cost, and the nodes' utilisation says it does not fit.
    nodes = cap.nodes_needed
    nodes_usd = nodes * node_price.usd
    on_nodes = [c for c in cap.components if c.name not in ("nodes", "drive-pool")]
    vcpu = sum(c.vcpu for c in on_nodes)
    shared_vcpu = max(nodes * w.node.vcpu, vcpu)
    disk = sum(c.disk_bytes for c in on_nodes)
    billed_disk = max(0.0, disk - nodes * w.node.disk_bytes)
    if vps:
        allowance = nodes * w.node.transfer_bytes_month
        transfer = prices.vps_transfer_overage.cost(max(0.0, cap.egress_bytes_month - allowance))
        control = 0.0
    else:
        transfer = prices.cloud_egress.cost(cap.egress_bytes_month)
        control = prices.cloud_control_plane.usd
    idle = nodes_usd * (1 - vcpu / shared_vcpu)
    costs = [
        Cost(
            "nodes",
            cap.component("nodes").label,
            idle + transfer + control,
            f"{nodes:,} × ${node_price.usd:,.2f}: idle headroom ${idle:,.0f}, "
            f"{'transfer overage' if vps else 'egress'} ${transfer:,.0f}, "
            f"control plane ${control:,.0f}",
        )
    ]
    for c in on_nodes:
        compute = nodes_usd * c.vcpu / shared_vcpu
        storage = volume.cost(billed_disk * c.disk_bytes / disk) if disk else 0.0
        costs.append(
            Cost(
                c.name,
                c.label,
                compute + storage,
                f"{c.vcpu:,.2f} vCPU of the nodes ${compute:,.0f}"
                + (f", volume ${storage:,.0f}" if storage else ""),
            )
        )
    accounts = cap.pool.accounts
    per_account = drive.price.usd + prices.drive_account_overhead.usd
    costs.append(
        Cost(
            "drive-pool",
            cap.component("drive-pool").label,
            accounts * per_account,
            f"{accounts:,} × ({drive.name} ${drive.price.usd:,.2f} + running it "
            f"${prices.drive_account_overhead.usd:,.2f})",
        )
    )
    return tuple(costs)


def _delivery(cap: CapacityPlan, prices: PriceTable, costs: tuple[Cost, ...]) -> list[Delivery]:
    w, t = cap.workload, cap.traffic
    stored = w.catalog_bytes
    delivered = t.download_bytes_per_day * DAYS_PER_MONTH
    reads = t.url_requests_per_day * DAYS_PER_MONTH
    files = w.class_files
    writes = sum(
        files[c.name] * w.new_content_share_month * math.ceil(c.size_bytes / w.chunk_bytes)
        for c in w.mix
    )
    by_name = {c.component: c.usd_month for c in costs}
    p = prices
    b2_paid = max(0.0, delivered - p.b2_free_egress_ratio * stored)
    return [
        # The accounts alone: the replication workers' share is left out, since loading an
        # object store needs an uploader too.
        Delivery(POOL, by_name["drive-pool"], f"{cap.pool.accounts:,} accounts"),
        Delivery(
            R2,
            p.r2_storage.cost(stored) + p.r2_class_b.cost(reads) + p.r2_class_a.cost(writes),
            f"one copy stored, {reads:,.0f} reads, {writes:,.0f} writes, egress free",
        ),
        Delivery(
            B2,
            p.b2_storage.cost(stored) + p.b2_egress.cost(b2_paid) + p.b2_class_b.cost(reads),
            f"one copy stored, {b2_paid / 1e9:,.0f} GB beyond the free 3× egress",
        ),
        Delivery(
            CDN,
            p.s3_storage.cost(stored) + p.cdn_egress.cost(delivered) + p.cdn_requests.cost(reads),
            f"{delivered / 1e9:,.0f} GB through the CDN, origin in S3",
        ),
        Delivery(
            EGRESS,
            p.s3_storage.cost(stored) + p.cloud_egress.cost(delivered) + p.s3_get.cost(reads),
            f"{delivered / 1e9:,.0f} GB of egress straight from S3",
        ),
    ]


def plan(w: Workload, prices: PriceTable = PRICES, capacities: Capacities = CAPACITIES) -> Plan:
    """Capacity, monthly cost per component and delivery alternatives for ``w``."""
    cap = capacity(w, capacities)
    drive = prices.drive_plan_for(w.account_storage_bytes)
    costs = _costs(cap, prices, drive)
    return Plan(
        capacity=cap,
        drive_plan=drive,
        account_overhead_usd=prices.drive_account_overhead.usd,
        costs=costs,
        delivery=tuple(_delivery(cap, prices, costs)),
    )


@dataclass(frozen=True)
class Crossover:
    """Where the pool and one alternative trade places as the user count grows."""

    alternative: str
    pool_cheaper_at_one_user: bool
    switches: tuple[int, ...]
    """User counts (from 1 to :data:`MAX_USERS`) at which the cheaper of the two changes."""

    @property
    def summary(self) -> str:
        """One sentence a reader can act on."""
        names = ("the pool", self.alternative)
        first = 0 if self.pool_cheaper_at_one_user else 1
        if not self.switches:
            return f"{names[first]} is cheaper at every scale up to {MAX_USERS:,} users"
        parts = [f"{names[first]} is cheaper below {self.switches[0]:,} users"]
        for i, users in enumerate(self.switches):
            parts.append(f"{names[(first + i + 1) % 2]} from {users:,}")
        return ", ".join(parts)


def crossovers(
    template: Workload, prices: PriceTable = PRICES, capacities: Capacities = CAPACITIES
) -> tuple[Crossover, ...]:
    """For each alternative, the user counts where it and the pool trade places.

    Costs are sampled ten times a decade from 1 to :data:`MAX_USERS` users and each change
    between samples is pinned down by bisection; a pair of changes closer than a tenth of a
    decade could go unseen, which the price table's few tiers do not produce.
    """
    plans: dict[int, Plan] = {}

    def pool_is_cheaper(users: int, alternative: str) -> bool:
        if users not in plans:
            plans[users] = plan(replace(template, users=users), prices, capacities)
        p = plans[users]
        return p.delivery[0].usd_month <= p.delivery_of(alternative).usd_month

    grid = sorted({round(10 ** (k / 10)) for k in range(101)})
    out = []
    for alt in ALTERNATIVES:
        cheaper = [pool_is_cheaper(u, alt) for u in grid]
        switches = []
        for i in range(1, len(grid)):
            if cheaper[i] == cheaper[i - 1]:
                continue
            low, high = grid[i - 1], grid[i]
            while high - low > 1:
                mid = (low + high) // 2
                if pool_is_cheaper(mid, alt) == cheaper[i - 1]:
                    low = mid
                else:
                    high = mid
            switches.append(high)
        out.append(Crossover(alt, cheaper[0], tuple(switches)))
    return tuple(out)


@dataclass(frozen=True)
class Study:
    """One profile planned at several scales, with what breaks first and the crossovers."""

    profile: str
    plans: tuple[Plan, ...]
    breaking_points: tuple[BreakingPoint, ...]
    crossovers: tuple[Crossover, ...]
    prices: PriceTable


def study(
    profile: str,
    template: Workload,
    users: Sequence[int],
    prices: PriceTable = PRICES,
    capacities: Capacities = CAPACITIES,
) -> Study:
    """Plan ``template`` at each of ``users``; ``template.users`` itself is not planned."""
    return Study(
        profile=profile,
        plans=tuple(plan(replace(template, users=u), prices, capacities) for u in users),
        breaking_points=breaking_points(template, capacities),
        crossovers=crossovers(template, prices, capacities),
        prices=prices,
    )
