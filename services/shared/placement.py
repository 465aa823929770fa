"""Placement by demand: how many replicas a file needs, and which accounts should hold them.

One model, shared by the operator (the counts, from the Downloader's per-file demand), the
Uploader (which accounts, within their storage) and ``bench/placement.py`` (a simulated day).
It is pure: no I/O, no clock.

**How many.** A replica serves at most ``replica_cap_bytes`` a day (Drive locks a file id past
its unpublished per-file limit) and at most ``account_share`` of its account's daily budget (the
account serves other files too). A file whose demand is ``d`` bytes a day therefore needs
``ceil(headroom × d / per_replica)`` replicas: ``headroom`` adds them before the caps are
reached, since demand is measured, not known. The count never goes below the durability
``floor`` nor above the pool.

**Where.** Copies that exist stay (a kept copy costs no traffic), up to the file's count. Then
every file gets its floor, the largest files first as bin packing does, then the hottest files
(by demand per copy) their extra copies. Each new copy goes to the account with the most daily
budget not yet promised to the replicas placed on it, among those with room for the file within
their storage limit. A file that finds no room keeps fewer copies, and the plan says how many
it lacks (``Plan.short``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

GB = 10**9


@dataclass(frozen=True)
class PlacementRules:
    """What the counts are derived from."""

    floor: int = 2
    replica_cap_bytes: int = 50 * GB
    account_share: float = 0.5
    headroom: float = 1.5

    def __post_init__(self) -> None:
        if self.floor < 1:
            raise ValueError("the replica floor is at least 1")
        if self.replica_cap_bytes < 0:
            raise ValueError("a replica cap is 0 (none) or a number of bytes")
        if not 0 < self.account_share <= 1:
            raise ValueError("account_share is a fraction of a budget, in (0, 1]")
        if self.headroom < 1:
            raise ValueError("headroom is at least 1 (no replica is planned for less demand)")

    def per_replica_bytes(self, account_budget: int) -> int:
        """Bytes a day one replica can serve on an account with this budget."""
        share = int(account_budget * self.account_share)
        if self.replica_cap_bytes:
            share = min(share, self.replica_cap_bytes)
        return max(share, 1)

    def wanted(self, demand_bytes: float, *, account_budget: int, pool: int) -> int:
        """Replicas a file with ``demand_bytes`` a day needs, within ``floor..pool``."""
        need = math.ceil(
            self.headroom * max(demand_bytes, 0) / self.per_replica_bytes(account_budget)
        )
        return max(min(self.floor, pool), min(max(need, self.floor), pool))


@dataclass(frozen=True)
class AccountRoom:
    """An account as placement sees it: its storage limit and its daily budget."""

    id: str
    storage_limit: int
    budget: int


@dataclass(frozen=True)
class FileDemand:
    """A file to place: its size, its daily demand, and the accounts holding it now."""

    id: str
    size: int
    demand: float
    held: frozenset[str] = frozenset()


@dataclass
class Plan:
    """Accounts per file, and the files that got fewer copies than they need."""

    accounts: dict[str, list[str]] = field(default_factory=dict)
    wanted: dict[str, int] = field(default_factory=dict)
    short: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)

    def copies_made(self, files: Iterable[FileDemand]) -> int:
        """Bytes of new copies the plan asks for (copies on accounts not holding the file)."""
        return sum(
            f.size * sum(1 for a in self.accounts.get(f.id, ()) if a not in f.held) for f in files
        )


def counts(
    files: Iterable[FileDemand], *, rules: PlacementRules, account_budget: int, pool: int
) -> dict[str, int]:
    """The replica count of every file."""
    return {f.id: rules.wanted(f.demand, account_budget=account_budget, pool=pool) for f in files}


def place(
    files: Sequence[FileDemand],
    accounts: Sequence[AccountRoom],
    wanted: Mapping[str, int],
    *,
    floor: int,
) -> Plan:
    """Accounts for each file's ``wanted`` copies within every account's storage limit.

    The plan is what the accounts will hold once carried out: the room of a held copy it does
    not keep goes to other files. Until that copy is removed, Drive may refuse a new copy for
    lack of storage; the Uploader then retries it later.
    """
    plan = Plan(wanted=dict(wanted))
    free = {a.id: a.storage_limit for a in accounts}
    promised = {a.id: 0.0 for a in accounts}
    budget = {a.id: a.budget for a in accounts}

    def load(f: FileDemand) -> float:
        return f.demand / max(wanted.get(f.id, 0), 1)

    def put(f: FileDemand, account_id: str) -> None:
        plan.accounts[f.id].append(account_id)
        free[account_id] -= f.size
        promised[account_id] += load(f)

    # Copies that exist stay first (no traffic), up to what each file wants.
    for f in files:
        plan.accounts[f.id] = []
        for account_id in sorted(f.held):
            if (
                len(plan.accounts[f.id]) < wanted.get(f.id, 0)
                and free.get(account_id, -1) >= f.size
            ):
                put(f, account_id)

    # Then every file's floor (durability before any extra copy), the largest files first as
    # bin packing does; then the extra copies, the hottest per copy first.
    def fill(ordered: list[FileDemand], target: Callable[[FileDemand], int]) -> None:
        for f in ordered:
            while len(plan.accounts[f.id]) < target(f):
                best: tuple[tuple[float, int], str] | None = None
                for a in accounts:
                    if a.id in plan.accounts[f.id] or free[a.id] < f.size:
                        continue
                    key = (-(budget[a.id] - promised[a.id]), -free[a.id])
                    if best is None or key < best[0]:
                        best = (key, a.id)
                if best is None:
                    break
                put(f, best[1])

    fill(sorted(files, key=lambda f: (-f.size, f.id)), lambda f: min(wanted.get(f.id, 0), floor))
    fill(sorted(files, key=lambda f: (-load(f), f.id)), lambda f: wanted.get(f.id, 0))
    for f in files:
        missing = wanted.get(f.id, 0) - len(plan.accounts[f.id])
        if missing > 0:
            plan.short[f.id] = missing
    plan.stored = {a.id: a.storage_limit - free[a.id] for a in accounts}
    return plan
