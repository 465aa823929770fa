"""The price table: list prices the planner turns capacity into dollars with.

Prices change and no plan should silently depend on a live lookup, so they are data here: each
entry names what is bought, its unit, its free allowance and where the figure comes from. They
are the author's knowledge of public list prices (USD, US regions, on-demand) as of
:data:`PRICES.as_of`: ESTIMATES, not quotes; check the sources before buying anything. To plan with
other prices, edit this table or build a :class:`PriceTable` with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.planner.model import PlanError

GB = 10**9
TB = 10**12


@dataclass(frozen=True, kw_only=True)
class Price:
    """A price per ``unit`` of some quantity, after ``free`` of it each month."""

    item: str
    usd: float
    per: str
    """How the unit reads in a table: "month", "GB", "GB-month", "million requests"."""
    unit: float = 1.0
    """Base quantity (bytes, requests, months) one ``usd`` pays for."""
    free: float = 0.0
    """Base quantity free each month."""
    source: str

    def cost(self, quantity: float) -> float:
        """Dollars for ``quantity`` base units in a month."""
        return max(0.0, quantity - self.free) / self.unit * self.usd


@dataclass(frozen=True)
class Tier:
    """A volume tier: ``usd`` per unit for the quantity up to ``up_to`` (cumulative, base units)."""

    up_to: float
    usd: float


@dataclass(frozen=True, kw_only=True)
class TieredPrice:
    """A price that falls with volume, after ``free`` each month."""

    item: str
    per: str
    unit: float
    free: float
    tiers: tuple[Tier, ...]
    source: str

    def cost(self, quantity: float) -> float:
        """Dollars for ``quantity`` base units in a month, each tier at its own price."""
        total, floor, left = 0.0, 0.0, max(0.0, quantity - self.free)
        for tier in self.tiers:
            used = min(left, tier.up_to - floor)
            total += used / self.unit * tier.usd
            left -= used
            floor = tier.up_to
        return total


@dataclass(frozen=True, kw_only=True)
class DrivePlan:
    """A kind of Google account a pool member can be: its storage and its monthly price."""

    name: str
    storage_bytes: int
    price: Price


@dataclass(frozen=True, kw_only=True)
class PriceTable:
    """Every price the planner uses, with the date they were known to be right."""

    as_of: str
    basis: str
    vps_node: Price
    vps_transfer_overage: Price
    vps_volume: Price
    cloud_node: Price
    cloud_control_plane: Price
    cloud_volume: Price
    cloud_egress: TieredPrice
    drive_plans: tuple[DrivePlan, ...]
    drive_account_overhead: Price
    r2_storage: Price
    r2_class_a: Price
    r2_class_b: Price
    b2_storage: Price
    b2_egress: Price
    b2_free_egress_ratio: float
    """B2 gives egress free up to this many times the bytes stored."""
    b2_class_b: Price
    s3_storage: Price
    s3_get: Price
    cdn_egress: TieredPrice
    cdn_requests: Price

    def drive_plan_for(self, storage_bytes: float) -> DrivePlan:
        """The cheapest plan with at least ``storage_bytes`` of storage."""
        fitting = [p for p in self.drive_plans if p.storage_bytes >= storage_bytes]
        if not fitting:
            largest = max(p.storage_bytes for p in self.drive_plans)
            raise PlanError(
                f"no Drive plan in the price table has {storage_bytes / GB:,.0f} GB "
                f"(the largest has {largest / GB:,.0f} GB)"
            )
        return min(fitting, key=lambda p: p.price.usd)

    def entries(self) -> list[Price | TieredPrice]:
        """Every price, in table order (for reports)."""
        out: list[Price | TieredPrice] = []
        for value in vars(self).values():
            if isinstance(value, Price | TieredPrice):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(p.price for p in value if isinstance(p, DrivePlan))
        return out


_AWS_DT = "https://aws.amazon.com/ec2/pricing/on-demand/ (Data Transfer, us-east-1)"
_CF = "https://aws.amazon.com/cloudfront/pricing/ (United States & Europe)"
_R2 = "https://developers.cloudflare.com/r2/pricing/"
_B2 = "https://www.backblaze.com/cloud-storage/pricing"
_G1 = "https://one.google.com/about/plans"
_HOURS_PER_MONTH = 730

PRICES = PriceTable(
    as_of="2024-06",
    basis=(
        "Author's knowledge date: public list prices as known in June 2024, USD, US regions, "
        "on-demand, not fetched live. Estimates: verify against each source before buying."
    ),
    vps_node=Price(
        item="VPS 4 vCPU / 8 GB / 160 GB SSD / 5 TB transfer (DigitalOcean Basic droplet)",
        usd=48.0,
        per="month",
        source="https://www.digitalocean.com/pricing/droplets",
    ),
    vps_transfer_overage=Price(
        item="VPS transfer beyond the pooled allowance",
        usd=0.01,
        per="GB",
        unit=GB,
        source="https://docs.digitalocean.com/platform/billing/bandwidth/",
    ),
    vps_volume=Price(
        item="VPS block storage volume",
        usd=0.10,
        per="GB-month",
        unit=GB,
        source="https://www.digitalocean.com/pricing/volumes",
    ),
    cloud_node=Price(
        item="Kubernetes node: EC2 m6i.xlarge (4 vCPU / 16 GiB), $0.192/hour",
        usd=0.192 * _HOURS_PER_MONTH,
        per="month",
        source="https://aws.amazon.com/ec2/pricing/on-demand/",
    ),
    cloud_control_plane=Price(
        item="Managed Kubernetes control plane: EKS cluster, $0.10/hour",
        usd=0.10 * _HOURS_PER_MONTH,
        per="month",
        source="https://aws.amazon.com/eks/pricing/",
    ),
    cloud_volume=Price(
        item="Block storage: EBS gp3",
        usd=0.08,
        per="GB-month",
        unit=GB,
        source="https://aws.amazon.com/ebs/pricing/",
    ),
    cloud_egress=TieredPrice(
        item="Cloud egress to the internet (AWS, first 100 GB free)",
        per="GB",
        unit=GB,
        free=100 * GB,
        tiers=(
            Tier(10 * TB, 0.09),
            Tier(50 * TB, 0.085),
            Tier(150 * TB, 0.07),
            Tier(math.inf, 0.05),
        ),
        source=_AWS_DT,
    ),
    drive_plans=(
        DrivePlan(
            name="Google account (free, 15 GB)",
            storage_bytes=15 * GB,
            price=Price(
                item="Google account, free 15 GB",
                usd=0.0,
                per="month",
                source="https://support.google.com/googleone/answer/9312312",
            ),
        ),
        DrivePlan(
            name="Google One 100 GB",
            storage_bytes=100 * GB,
            price=Price(item="Google One 100 GB", usd=1.99, per="month", source=_G1),
        ),
        DrivePlan(
            name="Google One 200 GB",
            storage_bytes=200 * GB,
            price=Price(item="Google One 200 GB", usd=2.99, per="month", source=_G1),
        ),
        DrivePlan(
            name="Google One 2 TB",
            storage_bytes=2 * TB,
            price=Price(item="Google One 2 TB", usd=9.99, per="month", source=_G1),
        ),
    ),
    drive_account_overhead=Price(
        item=(
            "Running one pool account (ESTIMATE: 30 min to create and register, amortised over "
            "12 months, plus replacing 5 %/month suspended accounts at 30 min, at $60/hour)"
        ),
        usd=30 / 60 * 60 / 12 + 0.05 * 30 / 60 * 60,
        per="month",
        source="planner's own estimate; edit to your operator's cost",
    ),
    r2_storage=Price(
        item="Cloudflare R2 storage (no egress fees; 10 GB-month free)",
        usd=0.015,
        per="GB-month",
        unit=GB,
        free=10 * GB,
        source=_R2,
    ),
    r2_class_a=Price(
        item="Cloudflare R2 Class A operations (writes; 1 M free)",
        usd=4.50,
        per="million requests",
        unit=1e6,
        free=1e6,
        source=_R2,
    ),
    r2_class_b=Price(
        item="Cloudflare R2 Class B operations (reads; 10 M free)",
        usd=0.36,
        per="million requests",
        unit=1e6,
        free=10e6,
        source=_R2,
    ),
    b2_storage=Price(
        item="Backblaze B2 storage ($6/TB-month; 10 GB free)",
        usd=0.006,
        per="GB-month",
        unit=GB,
        free=10 * GB,
        source=_B2,
    ),
    b2_egress=Price(
        item="Backblaze B2 egress beyond 3x the bytes stored",
        usd=0.01,
        per="GB",
        unit=GB,
        source=_B2,
    ),
    b2_free_egress_ratio=3.0,
    b2_class_b=Price(
        item="Backblaze B2 Class B transactions (downloads; 2,500 a day free)",
        usd=0.004,
        per="10,000 requests",
        unit=1e4,
        free=2_500 * 365.25 / 12,
        source=_B2,
    ),
    s3_storage=Price(
        item="Amazon S3 Standard storage (origin)",
        usd=0.023,
        per="GB-month",
        unit=GB,
        source="https://aws.amazon.com/s3/pricing/",
    ),
    s3_get=Price(
        item="Amazon S3 GET requests",
        usd=0.0004,
        per="1,000 requests",
        unit=1e3,
        source="https://aws.amazon.com/s3/pricing/",
    ),
    cdn_egress=TieredPrice(
        item="CDN egress: Amazon CloudFront (1 TB a month free)",
        per="GB",
        unit=GB,
        free=1 * TB,
        tiers=(
            Tier(10 * TB, 0.085),
            Tier(50 * TB, 0.080),
            Tier(150 * TB, 0.060),
            Tier(500 * TB, 0.040),
            Tier(1_024 * TB, 0.030),
            Tier(5_120 * TB, 0.025),
            Tier(math.inf, 0.020),
        ),
        source=_CF,
    ),
    cdn_requests=Price(
        item="CDN HTTPS requests: Amazon CloudFront (10 M a month free)",
        usd=0.01,
        per="10,000 requests",
        unit=1e4,
        free=10e6,
        source=_CF,
    ),
)
