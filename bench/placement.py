"""A simulated day of downloads under three placements (issue: placement by demand).

    uv run python -m bench.placement [--runs 20] [--accounts 30] [--files 600]
        [--load 0.6] [--zipf 1.1] [--json PATH]

The catalog is about ten times one account's storage; demand is Zipf-like over the files (a
few hot ones, a long tail). Each account has Drive's limits: a storage limit, a daily download
budget, and a per-file daily limit past which Drive locks the file. Three placements are
compared on the same catalog and the same requests, in the same run:

- **demand**: :mod:`services.shared.placement`, counts from the demand *measured on the day
  before* (another draw of the same distribution, as the operator sees it), placed by budget
  and storage;
- **uniform**: the same replica count for every file, as many as fit in the storage the
  demand placement uses (no more storage than it);
- **naive**: as many copies as fit: every file once, then every file a second time, and so on
  until the accounts are full.

The day is served as the Downloader serves it: each request goes to the replica whose account
has served the smallest share of its budget, skipping accounts without budget and replicas at
the per-file cap (the Downloader's ``replica_daily_cap_bytes``); a request no replica can take
is a 503. Reported per placement: the share of requested bytes served, and the bytes of copies
each placement had to make (every copy beyond a file's first). This runs the model and Drive's
rules in one process; it does not go through the services or the emulator's HTTP (a day of a
30-account pool is terabytes).

Results: JSON in ``--json`` or ``.state/bench/placement.json``; docs/performance.md, "Placement".
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from services.shared.placement import (
    AccountRoom,
    FileDemand,
    PlacementRules,
    counts,
    place,
)

GB = 10**9
MB = 10**6
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Day:
    """Drive's limits per account and the day's shape."""

    accounts: int = 30
    files: int = 600
    storage: int = 15 * GB
    budget: int = 100 * GB
    file_cap: int = 50 * GB
    catalog_factor: float = 10.0
    load: float = 0.6  # demand as a share of the pool's daily budget
    zipf: float = 1.1


def catalog(day: Day, rng: random.Random) -> list[tuple[str, int]]:
    """(id, size): log-normal sizes, scaled to ``catalog_factor`` × one account's storage."""
    raw = [min(max(rng.lognormvariate(0, 1.2), 0.03), 25) for _ in range(day.files)]
    scale = day.catalog_factor * day.storage / sum(raw)
    return [(f"f{n:05d}", max(int(size * scale), MB)) for n, size in enumerate(raw)]


def requests(
    files: list[tuple[str, int]], day: Day, popularity: list[float], rng: random.Random
) -> list[int]:
    """Indices of the files requested in one day, until the day's demand in bytes is met."""
    cumulative = list(accumulate(popularity))
    target = day.load * day.accounts * day.budget
    drawn: list[int] = []
    total = 0
    while total < target:
        index = bisect.bisect(cumulative, rng.random() * cumulative[-1])
        drawn.append(index)
        total += files[index][1]
    return drawn


def naive(files: list[tuple[str, int]], day: Day) -> dict[str, list[str]]:
    """Every file once, then every file again, ... until no copy fits anywhere."""
    free = {f"a{n:03d}": day.storage for n in range(day.accounts)}
    held: dict[str, list[str]] = {fid: [] for fid, _ in files}
    placed = True
    while placed:
        placed = False
        for fid, size in files:
            room = [a for a in free if a not in held[fid] and free[a] >= size]
            if room:
                target = max(room, key=lambda a: free[a])
                held[fid].append(target)
                free[target] -= size
                placed = True
    return held


def serve(
    placement: dict[str, list[str]],
    files: list[tuple[str, int]],
    drawn: list[int],
    day: Day,
    rng: random.Random,
) -> dict[str, float]:
    """Serve the requests in a random order; the shares served and refused."""
    order = list(drawn)
    rng.shuffle(order)
    spent: Counter[str] = Counter()
    per_replica: Counter[tuple[str, str]] = Counter()
    requested = served = 0
    for index in order:
        fid, size = files[index]
        requested += size
        candidates = sorted(placement.get(fid, ()), key=lambda a: spent[a])
        for account in candidates:
            if spent[account] + size > day.budget:
                continue
            if per_replica[(fid, account)] + size > day.file_cap:
                continue
            spent[account] += size
            per_replica[(fid, account)] += size
            served += size
            break
    return {"served_share": served / requested, "requested_bytes": requested}


def copies_bytes(placement: dict[str, list[str]], sizes: dict[str, int]) -> int:
    return sum(max(len(accounts) - 1, 0) * sizes[fid] for fid, accounts in placement.items())


def one_run(day: Day, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    files = catalog(day, rng)
    sizes = dict(files)
    ranks = list(range(1, day.files + 1))
    rng.shuffle(ranks)  # popularity is unrelated to size
    popularity = [1 / rank**day.zipf for rank in ranks]
    yesterday = Counter(files[i][0] for i in requests(files, day, popularity, rng))
    today = requests(files, day, popularity, rng)
    accounts = [AccountRoom(f"a{n:03d}", day.storage, day.budget) for n in range(day.accounts)]
    rules = PlacementRules(replica_cap_bytes=day.file_cap)
    demand = [FileDemand(fid, size, yesterday[fid] * size) for fid, size in files]
    wanted = counts(demand, rules=rules, account_budget=day.budget, pool=day.accounts)
    by_demand = place(demand, accounts, wanted, floor=rules.floor)
    used = sum(by_demand.stored.values())
    level = max(1, used // sum(sizes.values()))
    blind = [FileDemand(fid, size, 0) for fid, size in files]
    uniform = place(blind, accounts, dict.fromkeys(sizes, level), floor=level)
    placements = {
        "demand": by_demand.accounts,
        "uniform": uniform.accounts,
        "naive": naive(files, day),
    }
    result: dict[str, Any] = {"seed": seed, "uniform_replicas": level, "placements": {}}
    for name, placement in placements.items():
        figures = serve(placement, files, today, day, random.Random(seed + 1))
        result["placements"][name] = {
            **figures,
            "copies_gb": copies_bytes(placement, sizes) / GB,
            "stored_gb": sum(sizes[f] * len(a) for f, a in placement.items()) / GB,
            "unplaced_files": sum(1 for a in placement.values() if not a),
        }
    result["short_files"] = len(by_demand.short)
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(runs[0]["placements"])
    out: dict[str, Any] = {}
    for name in names:
        shares = [r["placements"][name]["served_share"] for r in runs]
        copies = [r["placements"][name]["copies_gb"] for r in runs]
        out[name] = {
            "served_share_mean": statistics.mean(shares),
            "served_share_min": min(shares),
            "served_share_max": max(shares),
            "copies_gb_mean": statistics.mean(copies),
            "stored_gb_mean": statistics.mean(r["placements"][name]["stored_gb"] for r in runs),
        }
    for other in ("uniform", "naive"):
        ratios = [
            r["placements"]["demand"]["served_share"] / r["placements"][other]["served_share"]
            for r in runs
        ]
        out[f"demand_over_{other}"] = {"mean": statistics.mean(ratios), "min": min(ratios)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=Day.accounts)
    parser.add_argument("--files", type=int, default=Day.files)
    parser.add_argument("--load", type=float, default=Day.load, help="demand / pool budget")
    parser.add_argument("--zipf", type=float, default=Day.zipf, help="Zipf exponent of demand")
    parser.add_argument("--json", type=Path, default=ROOT / ".state" / "bench" / "placement.json")
    args = parser.parse_args(argv)
    day = Day(accounts=args.accounts, files=args.files, load=args.load, zipf=args.zipf)
    runs = [one_run(day, seed) for seed in range(args.runs)]
    totals = summary(runs)
    report = {
        "day": day.__dict__,
        "runs": runs,
        "summary": totals,
        "ratio": {
            "vs uniform": round(totals["demand_over_uniform"]["mean"], 3),
            "vs naive": round(totals["demand_over_naive"]["mean"], 3),
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    for name, figures in report["summary"].items():
        print(name, json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
