"""Benchmark of the Downloader's download endpoint against a bare FastAPI endpoint.

    uv run python -m bench.downloader [--seconds 10] [--connections 64] [--sweep 1 4 16 64 256]

Needs the devstack's Redis (``uv run fileserver dev up --only redis``, on its configured port,
``FILESERVER_DEV_PORT_REDIS``): issued URLs are queued for Stats. Every server runs as uvicorn
processes on loopback with the same settings (workers, no access log, keep-alive); the
Downloader uses its embedded default, SQLite. The servers run side by side and take turns
(five per level), so that the machine's drift touches both. Prints, for one and for two worker
processes, requests/s and p99 latency of both and their ratio at ``--connections`` (and, as a
reference, the Downloader against a plain ASGI endpoint with no framework); then, for one worker,
the same at every ``--sweep`` level of concurrency (throughput and p50/p95/p99 against
concurrency, the data of docs/img/perf-downloader-*.svg); then the overcommit count (accounts
whose issued bytes passed their budget in a run that exhausts the pool: the goal is 0) and the
pool utilisation of the Downloader against naive round robin. The server CPU time per request
(all its processes and threads, from ``/proc``) is printed too: on a shared machine requests/s
swing with other work, CPU per request much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import redis
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from bench.load import LoadResult, run_load
from bench.proc import tree_cpu_seconds
from fileserver.devstack.config import Ports
from fileserver.devstack.servers import LOOPBACK
from services.shared.events import (
    AccountState,
    Event,
    EventBatch,
    FileState,
    FileStatus,
    ReplicaInfo,
    ReplicaState,
)
from tests.utils.drive import free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-internal-token-0123456789"  # noqa: S105 (a loopback benchmark's own token)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MB = 10**6
# The devstack's Redis wherever FILESERVER_DEV_PORT_REDIS puts it; database 3, which it flushes.
REDIS_URL = f"redis://{LOOPBACK}:{Ports().redis}/3"


class Server:
    """A uvicorn process; ``url`` once it answers ``/readyz``."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for attempt in Retrying(
            stop=stop_after_delay(180),  # imports and migrations: about 50 s at load 14 on 2 CPUs
            wait=wait_fixed(0.2),
            retry=retry_if_exception_type(Exception),
            reraise=True,
        ):
            with attempt:
                assert httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its worker processes."""
        return tree_cpu_seconds(self.process.pid)


def bare(workers: int, factory: str = "create_app") -> Server:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        f"bench.bare:{factory}",
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-keep-alive",
        "75",
    ]
    return Server(argv, {}, port)


def downloader(workers: int, state: Path) -> Server:
    port = free_port()
    env = {
        "FILESERVER_DOWNLOADER_PORT": str(port),
        "FILESERVER_DOWNLOADER_WORKERS": str(workers),
        "FILESERVER_DOWNLOADER_STATE_DIR": str(state),
        "FILESERVER_DOWNLOADER_REDIS_URL": REDIS_URL,
        "FILESERVER_DOWNLOADER_ADMIN_TOKEN": "bench-admin-token-0123456789",
        "FILESERVER_DOWNLOADER_INTERNAL_TOKEN": TOKEN,
        "FILESERVER_DRIVE_ROOT_URL": "http://127.0.0.1:9/",
    }
    return Server([sys.executable, "-m", "services.downloader"], env, port)


def catalog(budgets: dict[str, int], sizes: dict[str, int]) -> dict[str, Any]:
    events: list[Event] = [
        Event(
            seq=1, state=AccountState(id=a, email=f"{a}@bench", daily_budget_bytes=b, enabled=True)
        )
        for a, b in budgets.items()
    ]
    for name, size in sizes.items():
        replicas = tuple(
            ReplicaInfo(account_id=a, drive_file_id=f"{name}-{a}", state=ReplicaState.READY)
            for a in budgets
        )
        state = FileState(
            id=name,
            name=name,
            size=size,
            content_type="application/octet-stream",
            status=FileStatus.UPLOADED,
            replicas=replicas,
        )
        events.append(Event(seq=1, state=state))
    return EventBatch(events=tuple(events)).model_dump(mode="json")


ROUNDS = 5
"""Turns each server takes at every level: the bare endpoint and the Downloader alternate."""


def warm_up(server: Server, paths: list[str], connections: int, seconds: float) -> None:
    """Load that is not measured: caches, connections and lease blocks in place first."""
    asyncio.run(run_load("127.0.0.1", server.port, paths, connections=connections, seconds=seconds))


def load(server: Server, paths: list[str], connections: int, seconds: float) -> LoadResult:
    """Warm up, then measure; ``cpu_per_request`` is the server's CPU time per answer."""
    warm_up(server, paths, connections, min(2.0, seconds))
    return measured(server, paths, connections, seconds)


def measured(server: Server, paths: list[str], connections: int, seconds: float) -> LoadResult:
    """One measured run (no warm-up)."""
    before = server.cpu_seconds()
    result = asyncio.run(
        run_load("127.0.0.1", server.port, paths, connections=connections, seconds=seconds)
    )
    result.cpu_per_request = (server.cpu_seconds() - before) / max(1, len(result.latencies))
    return result


def alternating(
    servers: list[Server], paths: list[str], connections: int, seconds: float
) -> list[LoadResult]:
    """Each server measured for ``seconds`` in all, in :data:`ROUNDS` turns taken in rotation.

    The machines these run on are shared and their speed drifts by tens of percent within a
    minute; measured one after the other, a drift between the two runs showed up in the ratio
    (0.41–0.80 in three runs of one build). In turns, a drift touches both alike.
    """
    for server in servers:
        warm_up(server, paths, connections, 1.0)
    totals = [LoadResult(0.0) for _ in servers]
    for _ in range(ROUNDS):
        for server, total in zip(servers, totals, strict=True):
            turn = measured(server, paths, connections, seconds / ROUNDS)
            total.cpu_per_request += turn.cpu_per_request * len(turn.latencies)
            total.seconds += turn.seconds
            total.latencies.extend(turn.latencies)
            for status, count in turn.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + count
    for total in totals:
        total.cpu_per_request /= max(1, len(total.latencies))
    return totals


def overcommitted(db: Path, budgets: dict[str, int]) -> tuple[int, int, int]:
    """(accounts over budget, bytes issued, pool budget) from the Downloader's own records."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT account_id, day, SUM(bytes) FROM issued_urls GROUP BY account_id, day"
        ).fetchall()
    over = sum(1 for account, _day, total in rows if total > budgets[account])
    return over, sum(r[2] for r in rows), sum(budgets.values())


def naive_round_robin(budgets: dict[str, int], sizes: dict[str, int], requests: list[str]) -> int:
    """Bytes issued before the first refusal that another account could have served."""
    accounts = sorted(budgets)
    left = dict(budgets)
    issued = 0
    for n, name in enumerate(requests):
        account = accounts[n % len(accounts)]
        if left[account] < sizes[name]:
            if any(v >= sizes[name] for v in left.values()):
                return issued
            continue
        left[account] -= sizes[name]
        issued += sizes[name]
    return issued


def utilisation(
    server: Server, budgets: dict[str, int], sizes: dict[str, int], requests: list[str]
) -> int:
    """The same measure, asking the Downloader one request at a time."""
    left = dict(budgets)
    issued = 0
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for name in requests:
            answer = http.get(f"/files/{name}/download")
            if answer.status_code == 200:
                ticket = answer.json()
                left[ticket["account_id"]] -= ticket["charged_bytes"]
                issued += ticket["charged_bytes"]
            elif any(v >= sizes[name] for v in left.values()):
                return issued
    return issued


def figures_of(result: LoadResult) -> dict[str, float]:
    """One load run as the JSON figures (docs/performance.md's tables and plots read these)."""
    return {
        "rps": result.rps,
        "p50_ms": result.percentile(0.5) * 1000,
        "p95_ms": result.percentile(0.95) * 1000,
        "p99_ms": result.percentile(0.99) * 1000,
        "cpu_us_per_request": result.cpu_per_request * 1e6,
    }


def compare(
    workers: int,
    levels: list[int],
    paths: list[str],
    sizes: dict[str, int],
    seconds: float,
) -> tuple[dict[int, tuple[LoadResult, LoadResult]], LoadResult]:
    """(bare, Downloader) at each concurrency level in the order given: both servers run
    side by side and are measured in turns (:func:`alternating`) at every level; at the first
    level a plain ASGI endpoint takes turns too (returned second: a reference, not the goal's
    baseline)."""
    results: dict[int, tuple[LoadResult, LoadResult]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        baseline = bare(workers)
        raw = bare(workers, "create_raw_app")
        server = downloader(workers, Path(tmp))
        try:
            budgets = {f"acct{n}": 10**15 for n in range(10)}
            httpx.post(
                f"{server.url}/internal/events",
                json=catalog(budgets, sizes),
                headers=AUTH,
            ).raise_for_status()
            base, floor, ours = alternating([baseline, raw, server], paths, levels[0], seconds)
            results[levels[0]] = (base, ours)
            for connections in levels[1:]:
                base, ours = alternating([baseline, server], paths, connections, seconds)
                results[connections] = (base, ours)
        finally:
            for process in (baseline, raw, server):
                process.stop()
    return results, floor


def print_rows(label: str, base: LoadResult, ours: LoadResult) -> None:
    for name, result in (("bare FastAPI", base), ("Downloader", ours)):
        p50, p99 = result.percentile(0.5) * 1000, result.percentile(0.99) * 1000
        print(
            f"| {label} | {name} | {result.rps:.0f} | {p50:.1f} | {p99:.1f} "
            f"| {result.cpu_per_request * 1e6:.0f} | {dict(result.statuses)} |"
        )
    print(
        f"| {label} | **ratio** | **{ours.rps / base.rps:.2f}** | | "
        f"{ours.percentile(0.99) / base.percentile(0.99):.2f}× "
        f"| {base.cpu_per_request / ours.cpu_per_request:.2f} | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--sweep",
        type=int,
        nargs="*",
        default=[1, 4, 16, 64, 256],
        help="concurrency levels measured with one worker (none: no sweep)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    figures: dict[str, Any] = {"connections": args.connections, "workers": {}}
    rng = random.Random(7)
    sizes = {f"file{n:02d}": rng.randint(1, 200) * MB for n in range(20)}
    paths = [f"/files/{rng.choice(list(sizes))}/download" for _ in range(1000)]
    queue = redis.Redis.from_url(REDIS_URL)
    header = "| {} | endpoint | requests/s | p50 ms | p99 ms | CPU µs/request | statuses |"
    print(header.format("workers"))
    print("| --- | --- | --- | --- | --- | --- | --- |")
    try:
        sweep: dict[int, tuple[LoadResult, LoadResult]] = {}
        for workers in (1, 2):
            # One worker also runs the sweep, on the same servers after the headline level,
            # which is the sweep's own figure at that level.
            extra = sorted(set(args.sweep) - {args.connections}) if workers == 1 else []
            measured, floor = compare(
                workers, [args.connections, *extra], paths, sizes, args.seconds
            )
            base, ours = measured[args.connections]
            print_rows(str(workers), base, ours)
            print(
                f"| {workers} | (reference) plain ASGI | {floor.rps:.0f} "
                f"| {floor.percentile(0.5) * 1000:.1f} | {floor.percentile(0.99) * 1000:.1f} "
                f"| {floor.cpu_per_request * 1e6:.0f} | Downloader / it: "
                f"**{ours.rps / floor.rps:.2f}** |"
            )
            figures["workers"][str(workers)] = {
                "bare": figures_of(base),
                "downloader": figures_of(ours),
                "ratio": ours.rps / base.rps,
                "raw_asgi": figures_of(floor),
                "ratio_to_raw_asgi": ours.rps / floor.rps,
            }
            if workers == 1:
                sweep = {c: measured[c] for c in sorted(set(args.sweep))}
        if sweep:
            print(f"\n{header.format('connections')} (1 worker)")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for connections, (base, ours) in sweep.items():
                print_rows(str(connections), base, ours)
        figures["sweep"] = [
            {
                "connections": connections,
                "bare": figures_of(base),
                "downloader": figures_of(ours),
                "ratio": ours.rps / base.rps,
            }
            for connections, (base, ours) in sweep.items()
        ]

        # Overcommit: two workers, budgets that run out during the run.
        with tempfile.TemporaryDirectory() as tmp:
            budgets = {f"acct{n}": rng.randint(2_000, 4_000) * MB for n in range(10)}
            server = downloader(2, Path(tmp))
            try:
                httpx.post(
                    f"{server.url}/internal/events", json=catalog(budgets, sizes), headers=AUTH
                ).raise_for_status()
                result = load(server, paths, args.connections, args.seconds)
            finally:
                server.stop()
            over, issued, pool = overcommitted(Path(tmp) / "downloader.db", budgets)
            figures["overcommitted_accounts"] = over
            figures["pool_issued"] = issued / pool
            print(
                f"\novercommit (2 workers, statuses {dict(result.statuses)}): "
                f"{over} accounts over budget; issued {issued / pool:.1%} of the pool"
            )

        # Utilisation: one request at a time, mixed sizes, until a needless refusal.
        with tempfile.TemporaryDirectory() as tmp:
            budgets = {f"acct{n}": rng.randint(400, 900) * MB for n in range(6)}
            small = {f"file{n:02d}": rng.randint(1, 60) * MB for n in range(15)}
            requests = [rng.choice(list(small)) for _ in range(5000)]
            server = downloader(1, Path(tmp))
            try:
                httpx.post(
                    f"{server.url}/internal/events", json=catalog(budgets, small), headers=AUTH
                ).raise_for_status()
                ours_bytes = utilisation(server, budgets, small, requests)
            finally:
                server.stop()
            pool = sum(budgets.values())
            naive = naive_round_robin(budgets, small, requests)
            figures["utilisation"] = {"downloader": ours_bytes / pool, "naive": naive / pool}
            print(
                f"pool utilisation before a needless 503: Downloader {ours_bytes / pool:.1%}, "
                f"naive round robin {naive / pool:.1%}"
            )
    finally:
        queue.flushdb()
        queue.close()
    figures["ratio"] = figures["workers"]["1"]["ratio"]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
