"""Monthly costs, delivery alternatives and crossovers against the price table, by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.planner.plan import CDN, POOL, R2, crossovers, plan, study
from services.planner.prices import GB, PRICES, TB, Price, Tier, TieredPrice
from services.planner.profiles import seed_000, seed_001

pytestmark = pytest.mark.unit


def test_prices_carry_their_date_and_sources() -> None:
    assert PRICES.as_of == "2024-06"
    assert "Estimates" in PRICES.basis
    entries = PRICES.entries()
    assert len(entries) >= 20
    for entry in entries:
        assert entry.source.startswith(("https://", "planner's own estimate")), entry.item


def test_tiered_prices_charge_each_tier_at_its_rate() -> None:
    # CloudFront: 1 TB free, then 10 TB at $0.085 and the next 40 TB at $0.080.
    assert PRICES.cdn_egress.cost(20 * TB) == pytest.approx(10_000 * 0.085 + 9_000 * 0.080)
    assert PRICES.cdn_egress.cost(0.5 * TB) == 0
    toy = TieredPrice(
        item="t",
        per="GB",
        unit=GB,
        free=0,
        tiers=(Tier(2 * GB, 1.0), Tier(float("inf"), 0.5)),
        source="test",
    )
    assert toy.cost(5 * GB) == pytest.approx(2 * 1.0 + 3 * 0.5)
    flat = Price(item="p", usd=0.36, per="million", unit=1e6, free=10e6, source="test")
    assert flat.cost(5e6) == 0
    assert flat.cost(15e6) == pytest.approx(1.80)


def test_seed_001_at_1000_users_costs_one_vps_and_two_accounts() -> None:
    p = plan(seed_001(1_000))
    # One $48 VPS (no overage, disks fit its 160 GB) and 2 free accounts at $4 a month to run.
    assert p.total_usd_month == pytest.approx(48 + 2 * 4.0)
    assert p.cost_of("drive-pool") == pytest.approx(8.0)
    assert p.drive_plan.price.usd == 0


def test_seed_001_at_1m_users_pool_and_r2() -> None:
    p = plan(seed_001(10**6))
    assert p.cost_of("drive-pool") == pytest.approx(206 * 4.0)
    # R2: 10 GB stored (free), 5 M reads a month (under the 10 M free), no egress fees.
    assert p.delivery_of(R2).usd_month == 0
    assert p.cheapest.name == R2
    assert p.delivery_of(POOL).usd_month == pytest.approx(206 * 4.0)
    # Running an account would have to cost nothing for the pool to tie.
    assert p.break_even_account_usd(R2) == 0
    # Against the CDN, an account may cost up to (CDN bill) / 206 a month.
    assert p.break_even_account_usd(CDN) == pytest.approx(p.delivery_of(CDN).usd_month / 206)
    # CloudFront: 500 TB a month, first TB free, tiers down to $0.04; the 10 GB origin in S3;
    # 5 M requests are under the 10 M free.
    cdn = PRICES.cdn_egress.cost(500 * TB) + 10 * 0.023
    assert p.delivery_of(CDN).usd_month == pytest.approx(cdn)
    assert 20_000 < cdn < 30_000


def test_seed_001_at_1b_users_r2_reads_are_its_whole_bill() -> None:
    p = plan(seed_001(10**9))
    reads = 10**9 * 5  # one URL per download, five downloads a month
    assert p.delivery_of(R2).usd_month == pytest.approx((reads - 10e6) / 1e6 * 0.36)
    # Priced at the VPSs the load needs, though the profile allows one: $48 each, plus volumes
    # for the disk beyond their 160 GB each; 30 TB of egress is inside their pooled allowance.
    cap = p.capacity
    assert cap.nodes == 1
    assert cap.nodes_needed > 10
    disk = sum(c.disk_bytes for c in cap.components)
    volumes = (disk - cap.nodes_needed * 160 * GB) / GB * 0.10
    assert volumes > 1_000  # a year of issued URLs is 18 TB
    on_nodes = sum(c.usd_month for c in p.costs if c.component != "drive-pool")
    assert on_nodes == pytest.approx(cap.nodes_needed * 48.0 + volumes)


def test_seed_000_at_1000_users_prices_the_2tb_plan() -> None:
    p = plan(seed_000(1_000))
    assert p.drive_plan.name == "Google One 2 TB"
    assert p.cost_of("drive-pool") == pytest.approx(223 * (9.99 + 4.0))
    # R2 stores the 200 TB catalog once: $3,000 a month, reads and writes within free tiers.
    assert p.delivery_of(R2).usd_month == pytest.approx((200_000 - 10) * 0.015, rel=1e-3)
    # Cloud egress: API responses and the 2 TB of new content a month leave the cluster.
    nodes = p.costs[0]
    assert "control plane $73" in nodes.basis


def test_crossovers_are_where_the_cheaper_option_changes() -> None:
    template = seed_001(1_000)
    found = {x.alternative: x for x in crossovers(template)}
    assert found[R2].switches == ()
    assert not found[R2].pool_cheaper_at_one_user
    assert "Cloudflare R2 (no egress fees) is cheaper at every scale" in found[R2].summary
    cdn = found[CDN]
    assert len(cdn.switches) == 1
    switch = cdn.switches[0]

    def pool_cheaper(users: int) -> bool:
        p = plan(replace(template, users=users))
        return p.delivery_of(POOL).usd_month <= p.delivery_of(CDN).usd_month

    assert not pool_cheaper(switch - 1)
    assert pool_cheaper(switch)
    assert cdn.summary == (f"{CDN} is cheaper below {switch:,} users, the pool from {switch:,}")


def test_a_study_plans_each_scale() -> None:
    s = study("seed-001", seed_001(7), [1_000, 10**6, 10**9])
    assert [p.workload.users for p in s.plans] == [1_000, 10**6, 10**9]
    assert [p.capacity.pool.accounts for p in s.plans] == [2, 206, 205_339]
    assert s.breaking_points[0].component == "nodes"
    assert len(s.crossovers) == 4
