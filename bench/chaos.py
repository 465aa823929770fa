"""Seeded whole-system fault campaign: load and faults on a private local system, then the
convergence checker must find every side agreeing again within a deadline.

    uv run python -m bench.chaos [--seed N] [--seconds S] [--write-docs]

A load generator uploads, deletes and asks for download URLs, counting every URL it receives
(the ground truth of the statistics). Meanwhile a scheduler injects one fault at a time, in an
order drawn from ``random.Random(seed)``: SIGKILL of a service process (the Uploader, its
worker, the Downloader, Stats) or of a data server (Redis, FerretDB), restarted after a random
downtime; Drive errors (429, 500, 503, quota), dropped connections and latency through the
emulator's fault API; replays of captured catalog events, older and current ones shuffled, to
the Downloader's ``/internal/events``. The first round injects every kind once, so even a short
run covers them all; after it, no fault starts once ``--seconds`` have passed (restarts take
longer than the schedule plans: the last planned faults may be left out, and are counted).
When load and faults stop, ``fileserver.consistency`` is polled until no discrepancy is left;
the figures go to ``.state/bench/chaos.json`` and, with ``--write-docs``, to the generated
block of docs/reliability.md. The seed and the schedule are printed first: the same seed gives
the same schedule and the same sequence of load decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from fileserver.consistency.check import wait_converged
from fileserver.consistency.collect import Endpoints
from fileserver.consistency.model import Figures, Kind, Truth
from fileserver.devstack.config import PROJECT_ROOT
from fileserver.system.accounts import ensure_demo_accounts
from fileserver.system.system import LocalSystem
from services.downloader.schemas import CatalogKind, CatalogPage
from services.shared.events import Event, EventBatch
from tests.utils.local_system import PrivateSystem

SERVICES = ("uploader", "uploader-worker", "downloader", "stats")
SERVERS = ("redis", "ferretdb")
DRIVE_RULES: dict[str, dict[str, Any]] = {
    "drive:429": {"kind": "tooManyRequests", "rate": 0.3},
    "drive:500": {"kind": "backendError", "rate": 0.3},
    "drive:503": {"kind": "serviceUnavailable", "rate": 0.3},
    # Drive refuses storage only to what creates files (uploads); never to a delete.
    "drive:quota": {
        "kind": "storageQuotaExceeded",
        "rate": 0.3,
        "method": "POST",
        "path_prefix": "/upload/",
    },
    "drive:drop": {"kind": "drop", "rate": 0.3, "after_bytes": 512},
}
LATENCY_MS = 300
FAULT_KINDS = (
    *(f"kill:{name}" for name in (*SERVICES, *SERVERS)),
    *DRIVE_RULES,
    "drive:latency",
    "replay:events",
)
ACCOUNTS = 3
JOB_TIMEOUT = {"FILESERVER_UPLOADER_JOB_TIMEOUT_SECONDS": "180"}
"""arq lets a killed worker's job run again only after the longest job timeout (+10 s); the
default 3600 s would hold any job a kill interrupts for an hour (docs/reliability.md, finding
2). The campaign's files are small, but the periodic sweep over a few hundred files took more
than 60 s on the loaded test machine (timed out at 60 s, and nothing converged)."""
RESULTS = PROJECT_ROOT / ".state" / "bench" / "chaos.json"
DOC = PROJECT_ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load started (a fault starts late if the one before ran long)
    kind: str
    hold: float  # downtime of a killed process, or how long Drive misbehaves

    def __str__(self) -> str:
        return f"t={self.at:6.1f}s  {self.kind:<22} hold {self.hold:.1f}s"


def schedule(rng: random.Random, seconds: float) -> list[Fault]:
    """Every kind once in a random order, then random kinds until ``seconds``."""
    faults: list[Fault] = []
    at = rng.uniform(1, 2)
    kinds = rng.sample(FAULT_KINDS, len(FAULT_KINDS))
    while kinds or at < seconds:
        kind = kinds.pop() if kinds else rng.choice(FAULT_KINDS)
        hold = round(rng.uniform(0.5, 2.5), 1)
        faults.append(Fault(round(at, 1), kind, hold))
        at += hold + rng.uniform(0.5, 2)
    return faults


@dataclass
class Ledger:
    """What the load generator did and was told: the campaign's ground truth."""

    operations: Counter[str] = field(default_factory=Counter)
    sizes: dict[str, int] = field(default_factory=dict)  # files whose upload was acknowledged
    deleted: set[str] = field(default_factory=set)  # deletions acknowledged
    unknown: set[str] = field(default_factory=set)  # a deletion whose answer was lost
    files: Counter[str] = field(default_factory=Counter)
    file_bytes: Counter[str] = field(default_factory=Counter)
    accounts: Counter[str] = field(default_factory=Counter)
    account_bytes: Counter[str] = field(default_factory=Counter)
    unsure: Counter[str] = field(default_factory=Counter)
    unsure_bytes: Counter[str] = field(default_factory=Counter)

    def live(self) -> list[str]:
        return sorted(self.sizes.keys() - self.deleted - self.unknown)

    def truth(self) -> Truth:
        def figures(count: Counter[str], size: Counter[str]) -> dict[str, Figures]:
            return {key: Figures(count[key], size[key]) for key in count}

        return Truth(
            files=figures(self.files, self.file_bytes),
            accounts=figures(self.accounts, self.account_bytes),
            unsure=figures(self.unsure, self.unsure_bytes),
            kept=frozenset(self.live()),
            deleted=frozenset(self.deleted),
        )


def bearer_client(
    system: LocalSystem, service: str, token: str, timeout: float
) -> httpx.AsyncClient:
    """A client for one of ``system``'s services that sends ``token`` as its bearer token."""
    return httpx.AsyncClient(
        base_url=system.service(service).url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


class Load:
    """Uploads, deletions and download URLs, each decision drawn from the seeded generator."""

    def __init__(
        self, system: LocalSystem, rng: random.Random, ledger: Ledger, max_requests: int
    ) -> None:
        self.rng = rng
        self.ledger = ledger
        self.budget = max_requests
        self.uploader = bearer_client(system, "uploader", system.secrets.uploader_admin_token, 15)
        self.downloader = httpx.AsyncClient(base_url=system.service("downloader").url, timeout=15)

    async def aclose(self) -> None:
        await self.uploader.aclose()
        await self.downloader.aclose()

    async def run(self, stop: asyncio.Event, workers: int = 2) -> None:
        """A modest pace (about 6 operations a second): the campaign looks for wrong answers,
        not for throughput, and a backlog would only lengthen the time to converge."""
        await asyncio.gather(*(self._worker(stop) for _ in range(workers)))

    async def _worker(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and self.budget > 0:
            self.budget -= 1
            live = self.ledger.live()
            roll = self.rng.random()
            if roll < 0.15 or not live:
                await self.upload(self.rng.randint(1, 32 * 1024))
            elif roll < 0.9:
                await self.download(self.rng.choice(live))
            else:
                await self.delete(self.rng.choice(live))
            await asyncio.sleep(self.rng.uniform(0.1, 0.5))

    def _note(self, op: str, outcome: str) -> None:
        self.ledger.operations[f"{op}:{outcome}"] += 1

    async def upload(self, size: int) -> None:
        name = f"chaos-{sum(self.ledger.operations.values())}.bin"
        try:
            answer = await self.uploader.post(
                "/files", params={"name": name}, content=self.rng.randbytes(size)
            )
        except httpx.TransportError:
            return self._note("upload", "unanswered")
        if answer.status_code not in (200, 201, 202):
            return self._note("upload", f"http-{answer.status_code}")
        self.ledger.sizes[answer.json()["id"]] = size
        return self._note("upload", "ok")

    async def delete(self, file_id: str) -> None:
        try:
            answer = await self.uploader.delete(f"/files/{file_id}")
        except httpx.TransportError:
            self.ledger.unknown.add(file_id)
            return self._note("delete", "unanswered")
        if answer.status_code == 202:
            self.ledger.deleted.add(file_id)
            return self._note("delete", "ok")
        return self._note("delete", f"http-{answer.status_code}")

    async def download(self, file_id: str) -> None:
        """One download URL for a byte range (its charge is known whatever the answer)."""
        length = self.rng.randint(1, min(self.ledger.sizes[file_id], 4096))
        try:
            answer = await self.downloader.get(
                f"/files/{file_id}/download", params={"offset": 0, "length": length}
            )
        except httpx.ConnectError:  # never reached the Downloader: nothing issued
            return self._note("download", "unreachable")
        except httpx.TransportError:  # the URL may have been issued and recorded
            self.ledger.unsure[file_id] += 1
            self.ledger.unsure_bytes[file_id] += length
            return self._note("download", "unanswered")
        if answer.status_code != 200:
            return self._note("download", f"http-{answer.status_code}")
        ticket = answer.json()
        self.ledger.files[file_id] += 1
        self.ledger.file_bytes[file_id] += ticket["charged_bytes"]
        self.ledger.accounts[ticket["account_id"]] += 1
        self.ledger.account_bytes[ticket["account_id"]] += ticket["charged_bytes"]
        return self._note("download", "ok")


class Injector:
    """Applies one fault at a time and undoes it (restart, clear), never leaving one behind."""

    def __init__(self, system: LocalSystem, rng: random.Random) -> None:
        self.system = system
        self.rng = rng
        secrets = system.secrets
        self.emulator = bearer_client(system, "drive-emulator", secrets.emulator_admin_token, 30)
        self.internal = bearer_client(system, "downloader", secrets.downloader_internal_token, 30)
        self.reports = bearer_client(system, "downloader", secrets.downloader_admin_token, 30)
        self.captures: list[list[Event]] = []
        self.replayed = Counter[str]()

    async def aclose(self) -> None:
        await self.emulator.aclose()
        await self.internal.aclose()
        await self.reports.aclose()

    async def apply(self, fault: Fault) -> None:
        kind, _, target = fault.kind.partition(":")
        await self.capture()
        if kind == "kill":
            await asyncio.to_thread(self.kill, target)
            await asyncio.sleep(fault.hold)
            await self.restore()
        elif kind == "drive":
            rules = [DRIVE_RULES[fault.kind]] if fault.kind in DRIVE_RULES else []
            latency = LATENCY_MS if target == "latency" else 0
            body = {"rules": rules, "latency_ms": latency, "seed": self.rng.randrange(2**31)}
            (await self.emulator.put("/_emulator/faults", json=body)).raise_for_status()
            await asyncio.sleep(fault.hold)
            (await self.emulator.delete("/_emulator/faults")).raise_for_status()
        else:
            await self.replay()
            await asyncio.sleep(fault.hold)

    def kill(self, name: str) -> None:
        if name in SERVERS:
            self.system.stack.process(name).kill()
        else:
            self.system.process(self.system.service(name)).kill()

    async def restore(self) -> None:
        """Start whatever is not running (``up`` restarts exactly what is missing)."""
        await asyncio.to_thread(self.system.up)

    async def day(self) -> str:
        """The Downloader's current budget day (from its accounts report)."""
        answer = await self.reports.get("/reports/accounts", params={"limit": 1})
        answer.raise_for_status()
        day: str = answer.json()["day"]
        return day

    async def roll_over_at(self, boundary: datetime) -> None:
        """At ``boundary`` the Downloader's new budget day begins (its ROLLOVER_UTC, set when
        the campaign restarted it); turn Drive's quota day at the same moment."""
        await asyncio.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds()))
        with contextlib.suppress(httpx.HTTPError):  # the emulator may be mid-fault
            (await self.emulator.post("/_emulator/clock/rollover")).raise_for_status()

    async def capture(self) -> None:
        """The Downloader's catalog as events (seq and state), to replay later."""
        events: list[Event] = []
        with contextlib.suppress(httpx.HTTPError):
            for kind in CatalogKind:
                after = ""
                while True:
                    answer = await self.internal.get(
                        "/internal/catalog", params={"kind": kind.value, "after": after}
                    )
                    answer.raise_for_status()
                    page = CatalogPage.model_validate(answer.json())
                    events += [Event(seq=e.seq, state=e.state) for e in page.items]
                    if page.next_after is None:
                        break
                    after = page.next_after
            if events:
                self.captures.append(events)

    async def replay(self) -> None:
        """An older capture and the newest, shuffled together: duplicates and stale events."""
        if not self.captures:
            return
        events = [*self.rng.choice(self.captures), *self.captures[-1]]
        self.rng.shuffle(events)
        for start in range(0, len(events), 500):
            batch = EventBatch(events=tuple(events[start : start + 500]))
            try:
                answer = await self.internal.post(
                    "/internal/events",
                    content=batch.model_dump_json(),
                    headers={"Content-Type": "application/json"},
                )
            except httpx.TransportError:
                self.replayed["unanswered"] += len(batch.events)
                continue
            if answer.status_code != 200:
                self.replayed[f"http-{answer.status_code}"] += len(batch.events)
                continue
            result = answer.json()
            self.replayed["applied"] += result["applied"]
            self.replayed["ignored"] += result["ignored"]


async def campaign(
    system: LocalSystem,
    *,
    seed: int,
    seconds: float,
    converge_within: float = 420,
    max_requests: int = 100_000,
) -> dict[str, Any]:
    """Run load and faults on a system that is up with its demo accounts; the figures."""
    rng = random.Random(seed)
    faults = schedule(rng, seconds)
    print(f"chaos: seed {seed}, {len(faults)} faults over {seconds:.0f} s:")
    for fault in faults:
        print(f"  {fault}")
    ledger, stop = Ledger(), asyncio.Event()
    load = Load(system, random.Random(rng.random()), ledger, max_requests)
    injector = Injector(system, random.Random(rng.random()))
    injected: Counter[str] = Counter()
    skipped = 0
    # The day rollover: the Downloader is restarted with its day boundary in the middle of the
    # load (its days on both sides of the boundary hold nothing yet: the system is fresh), and
    # Drive's quota day turns at the same moment. Kills restart it with the same boundary.
    boundary = datetime.now(UTC) + timedelta(seconds=RESTART_ALLOWANCE + seconds / 2)
    rollover_env = {"FILESERVER_DOWNLOADER_ROLLOVER_UTC": boundary.strftime("%H:%M:%S")}
    with mock.patch.dict(os.environ, rollover_env):
        await asyncio.to_thread(injector.kill, "downloader")
        await injector.restore()
        day_before = await injector.day()
        print(f"chaos: the Downloader's day {day_before} ends at {boundary:%H:%M:%S} UTC")
        started = time.monotonic()
        runner = asyncio.create_task(load.run(stop))
        rollover = asyncio.create_task(injector.roll_over_at(boundary))
        try:
            for index, fault in enumerate(faults):
                if index >= len(FAULT_KINDS) and time.monotonic() - started >= seconds:
                    skipped = len(faults) - index
                    print(f"  time is up: {skipped} faults of the schedule not injected")
                    break  # restarts take longer than planned; the first round always runs
                await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
                print(f"  {time.monotonic() - started:6.1f}s inject {fault.kind}")
                await injector.apply(fault)
                injected[fault.kind] += 1
            await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
            await rollover  # a campaign cut short by slow restarts still crosses the boundary
            injected["clock:rollover"] += 1
        finally:
            stop.set()
            rollover.cancel()
            await runner
            with contextlib.suppress(httpx.HTTPError):
                await injector.emulator.delete("/_emulator/faults")
            await injector.restore()
        load_seconds = time.monotonic() - started
        day_after = await injector.day()
    await load.aclose()
    await injector.aclose()
    retried = await retry_failed(system)
    print(f"chaos: load stopped after {load_seconds:.0f} s, day {day_before} → {day_after};")
    print("chaos: waiting for convergence")
    truth = ledger.truth()
    outcome = await asyncio.to_thread(
        wait_converged, Endpoints.of(system), truth, within=converge_within, poll=2
    )
    result = outcome.result
    by_kind = result.by_kind()
    print(f"chaos: {'converged' if result.consistent else 'NOT converged'} after ", end="")
    print(f"{outcome.seconds:.1f} s ({outcome.checks} checks)")
    for item in result.discrepancies[:30]:
        print(f"  {item.kind.value:<20} {item.subject}  {item.detail}")
    return {
        "seed": seed,
        "seconds": seconds,
        "load_seconds": round(load_seconds, 1),
        "schedule": [asdict(f) for f in faults],
        "faults": dict(sorted(injected.items())),
        "faults_not_injected": skipped,
        "rollover": {"before": day_before, "after": day_after},
        "operations": dict(sorted(ledger.operations.items())),
        "urls_received": sum(ledger.files.values()),
        "failed_files_retried": retried,
        "replayed_events": dict(injector.replayed),
        "converged": result.consistent,
        "seconds_to_converge": round(outcome.seconds, 1),
        "checks": outcome.checks,
        "files_lost": by_kind[Kind.LOST_FILE] + by_kind[Kind.MISSING_DRIVE_FILE],
        "orphan_files": by_kind[Kind.ORPHAN_DRIVE_FILE],
        "quota_overcommits": by_kind[Kind.OVER_BUDGET],
        "stats_discrepancies": by_kind[Kind.STATS],
        "discrepancies": result.to_json()["discrepancies"],
        "sizes": result.sizes,
    }


RESTART_ALLOWANCE = 15.0
"""Seconds from choosing the day boundary to the start of the load (the Downloader restarts)."""


async def retry_failed(system: LocalSystem) -> int:
    """``:retry`` every failed file, as an operator would: a quota answer from every account
    fails a file for good by design (docs/uploader.md), even when the fault was brief."""
    async with bearer_client(system, "uploader", system.secrets.uploader_admin_token, 30) as http:
        answer = await http.get("/files", params={"status": "failed", "limit": 1000})
        answer.raise_for_status()
        failed = [f["id"] for f in answer.json()["items"]]
        for file_id in failed:
            (await http.post(f"/files/{file_id}:retry")).raise_for_status()
    if failed:
        print(f"chaos: retried {len(failed)} failed files: {', '.join(failed)}")
    return len(failed)


@contextlib.contextmanager
def private_system(budget_bytes: int) -> Iterator[PrivateSystem]:
    """A system of its own (state folder, ports), so kills never reach another run's."""
    work = PROJECT_ROOT / ".state" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="chaos-", dir=work) as state,
        mock.patch.dict(os.environ, JOB_TIMEOUT),
    ):
        private = PrivateSystem.allocate(Path(state))
        system = private.local_system()
        try:
            system.up()
            ensure_demo_accounts(system, ACCOUNTS, budget_bytes)
            yield private
        finally:
            system.down()


def doc_block(result: dict[str, Any], command: str, load: str) -> str:
    """The generated table of docs/reliability.md."""
    faults = ", ".join(f"{k} {v}" for k, v in result["faults"].items())
    ops = ", ".join(f"{k} {v}" for k, v in result["operations"].items())
    rows = [
        ("seed", result["seed"]),
        ("load duration", f"{result['load_seconds']} s"),
        ("faults injected", f"{sum(result['faults'].values())} ({faults})"),
        ("planned faults left out (time was up)", result["faults_not_injected"]),
        (
            "budget day crossed under load",
            f"{result['rollover']['before']} → {result['rollover']['after']}",
        ),
        ("operations", ops),
        ("download URLs received (ground truth)", result["urls_received"]),
        ("files failed by faults, retried after them", result["failed_files_retried"]),
        ("catalog events replayed", json.dumps(result["replayed_events"])),
        ("converged", "yes" if result["converged"] else "**no**"),
        ("time to converge after the last fault", f"{result['seconds_to_converge']} s"),
        ("files lost (goal 0)", result["files_lost"]),
        ("orphan Drive files left (goal 0)", result["orphan_files"]),
        ("quota overcommits (goal 0)", result["quota_overcommits"]),
        ("statistics discrepancies (goal 0)", result["stats_discrepancies"]),
        ("other discrepancies left", len(result["discrepancies"])),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return (
        f"{BEGIN}\n`{command}` — {time.strftime('%Y-%m-%d')}, {load}\n\n"
        f"| figure | value |\n| --- | --- |\n{table}\n{END}"
    )


def write_docs(block: str) -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{block}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--seconds", type=float, default=300, help="load duration at least")
    parser.add_argument("--converge-within", type=float, default=420)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--budget-bytes", type=int, default=20_000_000, help="per account, daily")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/reliability.md")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    with private_system(args.budget_bytes) as private:
        result = asyncio.run(
            campaign(
                private.local_system(),
                seed=seed,
                seconds=args.seconds,
                converge_within=args.converge_within,
                max_requests=args.max_requests,
            )
        )
    load = f"load average {Path('/proc/loadavg').read_text().split()[0]} at the end"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    command = f"uv run python -m bench.chaos --seed {seed} --seconds {args.seconds:g}"
    block = doc_block(result, command, load)
    print(block)
    if args.write_docs:
        write_docs(block)
    raise SystemExit(0 if result["converged"] else 1)


if __name__ == "__main__":
    main()
