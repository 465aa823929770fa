"""The capacity model: what a workload needs in Drive accounts, pods, nodes and bytes, and what
saturates first.

There is one model so that the figures an operator reads before buying anything are the figures
the cluster scales by: ``fileserver plan`` calls :func:`capacity`, and the Kubernetes operator's
scaling rule calls :func:`pods_for_budget`; both size pods with :func:`replicas_needed`. Every
function here is pure arithmetic on frozen dataclasses (no I/O, no prices: money is
:mod:`services.planner.plan`'s business). Inputs are validated on construction and refused with a
:class:`PlanError` that names the input and its allowed range. Bytes are SI (1 GB = 10⁹ bytes),
as Kubernetes quantities such as ``100G`` are; a month is 365.25 / 12 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

DAYS_PER_MONTH = 365.25 / 12
SECONDS_PER_DAY = 86_400
MIB = 2**20
GIB = 2**30
MAX_USERS = 10**10
"""More users than people on Earth: beyond it a plan is a typo, not a scenario."""
DRIVE_MAX_FILE_BYTES = 5 * 10**12
"""Google Drive stores no file larger than 5 TB."""


@dataclass(frozen=True, kw_only=True)
class Capacities:
    """What one pod sustains, and the limits of the components that run as one instance.

    The service figures are MEASURED where docs/performance.md has a benchmark for them
    (Downloader, Uploader, replication worker), defaults otherwise (Stats, the shared
    servers, the operator's steady reconcile rate); update them there and only here. A pod is
    one Python process; at its capacity it keeps ``pod_busy_vcpu`` busy.
    """

    downloader_rps: float = 1_200.0
    """Download requests one Downloader pod answers a second.

    MEASURED (docs/performance.md, "Downloader"): one worker process on SQLite answered
    1 194–1 781 requests/s at 64 connections, 580–875 µs of CPU each, on the 2-CPU development
    machine with the load generator on the same CPUs (2026-11-23); 1 200 is the low end. A later
    round of work on the Downloader (same page, "third round") measured 3 900–4 400 requests/s
    per worker; this figure, and the tables and diagrams of docs/capacity.md computed from it,
    are still the earlier, conservative one."""
    uploader_bytes_per_s: float = 11.7 * MIB
    """Upload bytes one Uploader pod streams into GridFS a second.

    MEASURED (docs/performance.md, "Uploader"): 11.7 MiB/s for 2 GiB through ``POST /files``
    into FerretDB on SQLite, which bounds it (writing GridFS directly: 12.0 MiB/s). A MongoDB
    server would likely be faster: treat it as a lower bound."""
    stats_events_per_s: float = 5_000.0
    """Issued-URL events one Stats pod aggregates a second (default: no benchmark yet)."""
    worker_bytes_per_s: float = 76 * MIB
    """Bytes one replication worker uploads to Drive a second (one resumable session).

    MEASURED (docs/performance.md, "Drive client upload memory"): ``DriveClient.upload`` moved
    76 MiB/s in 8 MiB chunks to the Drive emulator on loopback. Real Drive, across the internet,
    is likely slower: treat it as an upper bound."""
    pod_busy_vcpu: float = 1.0
    pod_idle_vcpu: float = 0.05
    pod_memory_bytes: float = 256 * MIB
    postgres_writes_per_s: float = 50_000.0
    """Rows a second one PostgreSQL primary absorbs in group commits; it does not scale out."""
    postgres_writes_per_vcpu: float = 5_000.0
    postgres_max_bytes: float = 16e12
    """One 16 TB volume: the largest single block volume DigitalOcean or EBS gp3 sell."""
    mongo_max_bytes: float = 16e12
    mongo_ingest_bytes_per_vcpu: float = 100e6
    redis_ops_per_s: float = 100_000.0
    """Redis executes commands on one thread."""
    redis_max_bytes: float = 25e9
    prometheus_series: float = 10e6
    """Active series one Prometheus server holds before it needs sharding."""
    operator_reconciles_per_s: float = 50.0
    """DriveAccount refreshes a second of the one active kopf process (peering keeps one
    active). A default: docs/performance.md measured creation, not refresh (1 000 DriveAccounts
    made Ready at 2.35/s and 10 000 FileReplicas at 26/s, both bound by the Uploader's FerretDB
    scans on the development machine)."""
    etcd_max_bytes: float = 8e9
    """etcd's largest recommended space quota."""


CAPACITIES = Capacities()

# Sizes of what the services store: estimates from the schemas (services/downloader/models.py,
# services/shared/stats.py), rounded up to include indexes.
URL_ROW_BYTES = 300
"""One ``issued_urls`` row and its index entries; the Downloader keeps every URL it issued."""
FILE_ROW_BYTES = 600
REPLICA_ROW_BYTES = 200
ACCOUNT_ROW_BYTES = 400
DAY_STATS_ROW_BYTES = 100
HOT_DAYS = 7
"""Days of issued URLs PostgreSQL keeps in memory (today's and the week's reports read them)."""
WRITES_PER_URL = 1.5
"""The issued URL itself plus its share of the per-file and per-account counters Stats bumps."""
FILE_DOC_BYTES = 1_000
ACCOUNT_DOC_BYTES = 1_000
STAGING_DAYS = 1.0
"""A staged upload stays in GridFS until its replicas exist: at most a day (Drive's upload cap)."""
EVENT_BYTES = 200
QUEUE_BUFFER_SECONDS = 3_600
"""Redis must hold an hour of stats events if Stats stops (the events are not lost meanwhile)."""
URLS_PER_STATS_JOB = 512
REDIS_OPS_PER_JOB = 10
REDIS_OPS_PER_VCPU = 50_000.0
SERIES_PER_POD = 300
SERIES_PER_ACCOUNT = 10
SERIES_PER_NODE = 1_000
SERIES_MEMORY_BYTES = 4 * 1024
SERIES_PER_VCPU = 1e6
PROMETHEUS_DISK_BYTES_PER_SERIES = 15 * (SECONDS_PER_DAY // 15) * 1.5
"""15 days of one series scraped every 15 s at about 1.5 bytes a sample."""
ACCOUNT_SYNC_SECONDS = 300
"""The operator re-reads each DriveAccount's usage this often."""
OBJECT_BYTES = 2_000
"""One DriveAccount or FileReplica object in etcd (and about twice that in kopf's memory)."""


class PlanError(ValueError):
    """An input the model cannot plan for; the message names it and its allowed range."""


class Placement(StrEnum):
    """Where replicas of a file go."""

    ALL = "all"
    """Every file on every account (seed 001, item 9): only when the catalog fits one account."""
    DEMAND = "demand"
    """Each file gets the replicas its downloads need, at least ``min_replicas`` (seed 002)."""
    AUTO = "auto"
    """``all`` when the catalog fits an account, ``demand`` otherwise (the design's default)."""


class Hosting(StrEnum):
    """What the services run on."""

    VPS = "vps"
    """Virtual private servers with a monthly transfer allowance (seed 001)."""
    CLOUD = "cloud"
    """Managed Kubernetes on a public cloud, egress billed per GB (seed 000)."""


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"


def _check(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    whole: bool = False,
    why: str = "",
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError(f"{name} must be a finite number (got {value!r})")
    if whole and not isinstance(value, int):
        raise PlanError(f"{name} must be a whole number (got {value!r})")
    if (value <= low if low_open else value < low) or value > high:
        bound = f"greater than {_number(low)}" if low_open else f"at least {_number(low)}"
        reason = f": {why}" if why else ""
        raise PlanError(
            f"{name} must be {bound} and at most {_number(high)} (got {_number(value)}){reason}"
        )


@dataclass(frozen=True, kw_only=True)
class FileClass:
    """A kind of file in the catalog: its share of the files and of the downloads, its size."""

    name: str
    share: float
    size_bytes: int
    streamed: bool = False
    """Read by ranges of ``chunk_bytes`` (video, seed 002's ``read(K, offset)``), one URL each."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise PlanError("a file class needs a name")
        _check(f"share of file class {self.name!r}", self.share, 0, 1, low_open=True)
        _check(
            f"size of file class {self.name!r} (bytes)",
            self.size_bytes,
            1,
            DRIVE_MAX_FILE_BYTES,
            whole=True,
            why="Drive stores no file larger than 5 TB",
        )


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """One machine the services run on."""

    name: str
    vcpu: float
    memory_bytes: float
    disk_bytes: float = 0.0
    transfer_bytes_month: float = 0.0
    """Outbound transfer included each month (0: egress is billed per GB)."""

    def __post_init__(self) -> None:
        _check("node vCPUs", self.vcpu, 0, 1024, low_open=True)
        _check("node memory (bytes)", self.memory_bytes, 0, 64 * 2**40, low_open=True)
        _check("node disk (bytes)", self.disk_bytes, 0, 10**15)
        _check("node transfer allowance (bytes/month)", self.transfer_bytes_month, 0, 10**16)


# Sanity bounds of the workload's numbers: (field, low, high, low excluded, whole number). A
# value outside them is a typo or a unit mistake, not a scenario.
_WORKLOAD_BOUNDS: tuple[tuple[str, float, float, bool, bool], ...] = (
    ("active_share", 0, 1, True, False),
    ("downloads_per_user_month", 0, 100_000, True, False),
    ("requests_per_active_user_day", 0, 10**6, False, False),
    ("peak_factor", 1, 100, False, False),
    ("catalog_files", 1, 10**10, False, True),
    ("new_content_share_month", 0, 100, False, False),
    ("hot_file_share", 0, 1, True, False),
    ("chunk_bytes", 256 * 1024, DRIVE_MAX_FILE_BYTES, False, True),
    ("response_bytes", 1, 10**7, False, True),
    ("min_replicas", 1, 1_000, False, True),
    ("account_daily_budget_bytes", 0, 10**15, True, True),
    ("account_storage_bytes", 0, 10**15, True, True),
    ("account_upload_cap_bytes", 0, 10**15, True, True),
    ("target_utilisation", 0, 1, True, False),
    ("storage_fill", 0, 1, True, False),
    ("retention_days", 1, 36_500, False, True),
)


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Everything the model takes: the users and what they do, the pool, the hosting."""

    users: int
    """Monthly active users."""
    active_share: float = 0.2
    """Share of the monthly users active on a given day."""
    downloads_per_user_month: float = 5.0
    mix: tuple[FileClass, ...] = (FileClass(name="file", share=1.0, size_bytes=100 * 10**6),)
    requests_per_active_user_day: float = 5.0
    """Every API request an active user's client makes a day, URL requests included."""
    peak_factor: float = 3.0
    """Busiest hour's rate over the day's average rate."""
    catalog_files: int = 100
    new_content_share_month: float = 1.0
    """Bytes uploaded new each month, as a share of the catalog's bytes."""
    hot_file_share: float = 0.2
    hot_download_share: float = 0.8
    """Share of the downloads that go to the hot files."""
    chunk_bytes: int = 64 * MIB
    response_bytes: int = 1_000
    """Bytes of one API response on the wire, headers included."""
    placement: Placement = Placement.AUTO
    min_replicas: int = 2
    account_daily_budget_bytes: int = 100 * 10**9
    account_storage_bytes: int = 15 * 10**9
    account_upload_cap_bytes: int = 750 * 10**9
    """Drive's daily upload cap per user; server-side copies into the account count against it."""
    target_utilisation: float = 0.8
    """Share of every scale-out unit (account budget, pod, node) a plan fills at peak."""
    storage_fill: float = 0.9
    """Share of an account's storage the placement fills."""
    hosting: Hosting = Hosting.VPS
    node: NodeType = field(
        default_factory=lambda: NodeType(
            name="VPS 4 vCPU / 8 GB / 160 GB / 5 TB",
            vcpu=4,
            memory_bytes=8 * GIB,
            disk_bytes=160e9,
            transfer_bytes_month=5e12,
        )
    )
    max_nodes: int | None = 1
    """Most nodes the plan may use (seed 001: the one VPS); ``None``: as many as needed."""
    retention_days: int = 365
    """Days of issued URLs and daily statistics the Downloader keeps."""

    def __post_init__(self) -> None:
        _check("users", self.users, 1, MAX_USERS, whole=True, why="more than people on Earth")
        for name, low, high, low_open, whole in _WORKLOAD_BOUNDS:
            value = getattr(self, name)
            _check(name.replace("_", " "), value, low, high, low_open=low_open, whole=whole)
        self._check_mix()
        _check(
            "hot download share",
            self.hot_download_share,
            self.hot_file_share,
            1,
            why="hot files get at least their share of the downloads",
        )
        if self.max_nodes is not None:
            _check("max nodes", self.max_nodes, 1, 10**7, whole=True)
        self._check_consistency()

    def _check_mix(self) -> None:
        if not self.mix:
            raise PlanError("the file mix needs at least one file class")
        names = [c.name for c in self.mix]
        if len(set(names)) != len(names):
            raise PlanError(f"file class names must differ (got {names})")
        total = sum(c.share for c in self.mix)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise PlanError(f"file class shares must add up to 1 (they add up to {total:g})")

    def _check_consistency(self) -> None:
        usable = self.usable_storage_bytes
        for c in self.mix:
            if c.size_bytes > usable:
                raise PlanError(
                    f"files of class {c.name!r} ({_number(c.size_bytes)} bytes) do not fit in "
                    f"an account's usable storage ({_number(usable)} bytes)"
                )
        urls = self.downloads_per_user_month * self.urls_per_download / DAYS_PER_MONTH
        requests = self.requests_per_active_user_day * self.active_share
        if requests < urls * (1 - 1e-9):
            raise PlanError(
                f"requests per active user per day ({self.requests_per_active_user_day:g}) are "
                f"fewer than the URL requests the downloads need ({urls / self.active_share:.3g}"
                " per active user per day)"
            )
        if self.placement is Placement.ALL and self.catalog_bytes > usable:
            raise PlanError(
                f"placement 'all' puts the whole catalog ({_number(self.catalog_bytes)} bytes) on "
                f"every account, which holds {_number(usable)} usable bytes: use 'demand'"
            )

    @property
    def usable_storage_bytes(self) -> float:
        """Bytes of one account the placement may fill."""
        return self.account_storage_bytes * self.storage_fill

    @property
    def mean_file_bytes(self) -> float:
        """Mean bytes of one download."""
        return sum(c.share * c.size_bytes for c in self.mix)

    @property
    def urls_per_download(self) -> float:
        """Mean URL requests one download makes (one per chunk for streamed files)."""
        return sum(c.share * _urls_per_file(c, self.chunk_bytes) for c in self.mix)

    @property
    def class_files(self) -> dict[str, int]:
        """Files of each class in the catalog (at least one each)."""
        return {c.name: max(1, round(self.catalog_files * c.share)) for c in self.mix}

    @property
    def catalog_bytes(self) -> float:
        """Bytes of one copy of the catalog."""
        files = self.class_files
        return float(sum(files[c.name] * c.size_bytes for c in self.mix))

    @property
    def effective_budget_bytes(self) -> float:
        """Bytes a day the plan draws from one account."""
        return self.account_daily_budget_bytes * self.target_utilisation


def _urls_per_file(c: FileClass, chunk_bytes: int) -> int:
    return math.ceil(c.size_bytes / chunk_bytes) if c.streamed else 1


@dataclass(frozen=True)
class Traffic:
    """Rates the workload puts on the system (per day, per month, and at peak per second)."""

    downloads_per_day: float
    download_bytes_per_day: float
    url_requests_per_day: float
    api_requests_per_day: float
    new_files_per_day: float
    new_bytes_per_day: float
    peak_factor: float

    def peak(self, per_day: float) -> float:
        """The busiest hour's rate per second of a daily total."""
        return per_day / SECONDS_PER_DAY * self.peak_factor

    @property
    def peak_api_rps(self) -> float:
        """API requests per second in the busiest hour."""
        return self.peak(self.api_requests_per_day)

    @property
    def peak_url_rps(self) -> float:
        """URL requests (stats events) per second in the busiest hour."""
        return self.peak(self.url_requests_per_day)

    @property
    def peak_download_bits_per_s(self) -> float:
        """Bits per second the pool serves in the busiest hour."""
        return self.peak(self.download_bytes_per_day) * 8


def traffic(w: Workload) -> Traffic:
    """What ``w``'s users ask of the system."""
    downloads = w.users * w.downloads_per_user_month / DAYS_PER_MONTH
    return Traffic(
        downloads_per_day=downloads,
        download_bytes_per_day=downloads * w.mean_file_bytes,
        url_requests_per_day=downloads * w.urls_per_download,
        api_requests_per_day=w.users * w.active_share * w.requests_per_active_user_day,
        new_files_per_day=w.catalog_files * w.new_content_share_month / DAYS_PER_MONTH,
        new_bytes_per_day=w.catalog_bytes * w.new_content_share_month / DAYS_PER_MONTH,
        peak_factor=w.peak_factor,
    )


@dataclass(frozen=True)
class PoolPlan:
    """The Drive pool: how many accounts, why, and how full they are."""

    placement: Placement
    """The placement applied (``auto`` resolved)."""
    accounts_by_bandwidth: int
    accounts_by_storage: int
    accounts: int
    copies: int
    """File copies in the pool (every replica of every file)."""
    hot_file_replicas: int
    stored_bytes: float
    files: int
    budget_utilisation: float
    storage_utilisation: float
    upload_utilisation: float
    """Replica bytes an account receives a day over Drive's daily upload cap."""

    @property
    def mean_replicas(self) -> float:
        """Copies per file."""
        return self.copies / self.files


def pool(w: Workload, t: Traffic) -> PoolPlan:
    """Accounts by bandwidth and by storage; the larger wins."""
    budget = w.effective_budget_bytes
    by_bandwidth = math.ceil(t.download_bytes_per_day / budget)
    placement = w.placement
    if placement is Placement.AUTO:
        fits = w.catalog_bytes <= w.usable_storage_bytes
        placement = Placement.ALL if fits else Placement.DEMAND
    files = sum(w.class_files.values())
    if placement is Placement.ALL:
        accounts = max(by_bandwidth, w.min_replicas)
        return PoolPlan(
            placement=placement,
            accounts_by_bandwidth=by_bandwidth,
            accounts_by_storage=w.min_replicas,
            accounts=accounts,
            copies=files * accounts,
            hot_file_replicas=accounts,
            stored_bytes=w.catalog_bytes * accounts,
            files=files,
            budget_utilisation=t.download_bytes_per_day / (accounts * w.account_daily_budget_bytes),
            storage_utilisation=w.catalog_bytes / w.account_storage_bytes,
            upload_utilisation=t.new_bytes_per_day / w.account_upload_cap_bytes,
        )
    by_storage, copies, hot_replicas, stored = 0, 0, 0, 0.0
    for c in w.mix:
        n = w.class_files[c.name]
        hot = min(n, max(1, math.ceil(n * w.hot_file_share)))
        cold = n - hot
        class_bytes = t.download_bytes_per_day * c.share
        hot_bytes = class_bytes * (w.hot_download_share if cold else 1.0) / hot
        cold_bytes = class_bytes * (1 - w.hot_download_share) / cold if cold else 0.0
        hot_r = max(w.min_replicas, math.ceil(hot_bytes / budget))
        cold_r = max(w.min_replicas, math.ceil(cold_bytes / budget))
        class_copies = hot * hot_r + cold * cold_r
        by_storage += math.ceil(class_copies / math.floor(w.usable_storage_bytes / c.size_bytes))
        copies += class_copies
        hot_replicas = max(hot_replicas, hot_r)
        stored += class_copies * c.size_bytes
    # A file's replicas sit on distinct accounts, so the hottest file sets a floor too.
    accounts = max(by_bandwidth, by_storage, hot_replicas)
    return PoolPlan(
        placement=placement,
        accounts_by_bandwidth=by_bandwidth,
        accounts_by_storage=by_storage,
        accounts=accounts,
        copies=copies,
        hot_file_replicas=hot_replicas,
        stored_bytes=stored,
        files=files,
        budget_utilisation=t.download_bytes_per_day / (accounts * w.account_daily_budget_bytes),
        storage_utilisation=stored / (accounts * w.account_storage_bytes),
        upload_utilisation=t.new_bytes_per_day
        * copies
        / files
        / accounts
        / w.account_upload_cap_bytes,
    )


@dataclass(frozen=True, kw_only=True)
class ServiceLoads:
    """Peak load on the scale-out services."""

    api_rps: float = 0.0
    upload_bytes_per_s: float = 0.0
    stats_events_per_s: float = 0.0
    replicate_bytes_per_s: float = 0.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            _check(name.replace("_", " "), value, 0, 1e15)


@dataclass(frozen=True)
class PodCounts:
    """Pods (replicas of each Deployment) per service."""

    uploader: int
    downloader: int
    stats: int
    replication_workers: int


def _pods(load: float, per_pod: float, target: float, min_pods: int) -> int:
    return max(min_pods, math.ceil(load / (per_pod * target)))


def replicas_needed(
    loads: ServiceLoads,
    *,
    capacities: Capacities = CAPACITIES,
    target_utilisation: float = 0.8,
    min_pods: int = 1,
) -> PodCounts:
    """Pods per service that carry ``loads`` with each pod at most ``target_utilisation`` busy."""
    _check("target utilisation", target_utilisation, 0, 1, low_open=True)
    _check("minimum pods", min_pods, 0, 10_000)
    c, u = capacities, target_utilisation
    return PodCounts(
        uploader=_pods(loads.upload_bytes_per_s, c.uploader_bytes_per_s, u, min_pods),
        downloader=_pods(loads.api_rps, c.downloader_rps, u, min_pods),
        stats=_pods(loads.stats_events_per_s, c.stats_events_per_s, u, min_pods),
        replication_workers=_pods(loads.replicate_bytes_per_s, c.worker_bytes_per_s, u, min_pods),
    )


@dataclass(frozen=True, kw_only=True)
class LiveSignals:
    """What the operator observes now; each signal can only raise the pod counts."""

    api_rps: float = 0.0
    upload_bytes_per_s: float = 0.0
    stats_queue_depth: int = 0
    """Issued-URL events waiting on the ``stats`` queue."""
    replicate_queue_bytes: int = 0
    """Bytes of staged uploads waiting to be replicated."""
    drain_seconds: float = 300.0
    """How fast a backlog must be worked off."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            _check(name.replace("_", " "), value, 0, 1e18)
        _check("drain seconds", self.drain_seconds, 0, 86_400, low_open=True)


def pods_for_budget(
    pool_daily_bytes: float,
    *,
    mean_download_bytes: float,
    urls_per_download: float = 1.0,
    peak_factor: float = 3.0,
    signals: LiveSignals | None = None,
    capacities: Capacities = CAPACITIES,
    target_utilisation: float = 0.8,
    min_pods: int = 1,
) -> PodCounts:
    """Pods per service for a pool that may hand out ``pool_daily_bytes`` a day (operator's rule).

    The Downloader and Stats are sized so that the pool's whole daily budget can be handed out at
    ``peak_factor`` times the average rate; more URL requests than that could only be answered
    503, so the budget, not the crowd, bounds them. Live signals raise the counts: a higher
    observed request rate, uploads arriving, and queue backlogs to drain in ``drain_seconds``.
    """
    s = signals or LiveSignals()
    _check("pool daily bytes", pool_daily_bytes, 0, 1e18)
    _check("mean download bytes", mean_download_bytes, 1, DRIVE_MAX_FILE_BYTES)
    _check("URLs per download", urls_per_download, 1, 1e6)
    _check("peak factor", peak_factor, 1, 100)
    budget_url_rps = (
        pool_daily_bytes / mean_download_bytes * urls_per_download / SECONDS_PER_DAY * peak_factor
    )
    return replicas_needed(
        ServiceLoads(
            api_rps=max(budget_url_rps, s.api_rps),
            upload_bytes_per_s=s.upload_bytes_per_s,
            stats_events_per_s=budget_url_rps + s.stats_queue_depth / s.drain_seconds,
            replicate_bytes_per_s=s.upload_bytes_per_s + s.replicate_queue_bytes / s.drain_seconds,
        ),
        capacities=capacities,
        target_utilisation=target_utilisation,
        min_pods=min_pods,
    )


@dataclass(frozen=True)
class Constraint:
    """One limit of a component: demand against capacity."""

    name: str
    demand: float
    capacity: float
    unit: str

    @property
    def utilisation(self) -> float:
        """Demand over capacity (above 1: over the limit)."""
        return self.demand / self.capacity


@dataclass(frozen=True)
class Component:
    """A box of the diagram: how many units, the resources they reserve, their limits."""

    name: str
    label: str
    units: int
    unit: str
    scales_out: bool
    vcpu: float
    memory_bytes: float
    disk_bytes: float
    constraints: tuple[Constraint, ...]

    @property
    def binding(self) -> Constraint:
        """The constraint closest to (or furthest past) its limit."""
        return max(self.constraints, key=lambda c: c.utilisation)

    @property
    def utilisation(self) -> float:
        """The binding constraint's utilisation."""
        return self.binding.utilisation


@dataclass(frozen=True)
class Stores:
    """Sizes and peak rates of the single-instance stores."""

    postgres_bytes: float
    postgres_writes_per_s: float
    mongo_bytes: float
    gridfs_staging_bytes: float
    redis_bytes: float
    redis_ops_per_s: float
    prometheus_series: float
    etcd_bytes: float
    operator_reconciles_per_s: float


@dataclass(frozen=True)
class Replication:
    """Transfer the nodes spend putting new content into the pool, two ways."""

    upload_once_bytes_month: float
    """Upload each file once, then fan out with Drive's server-side ``files.copy``."""
    naive_bytes_month: float
    """Upload every replica from the nodes."""
    max_new_bytes_month_upload_once: float | None
    """New content a month the transfer allowance leaves room for (``None``: no allowance)."""
    max_new_bytes_month_naive: float | None


@dataclass(frozen=True)
class CapacityPlan:
    """Everything :func:`capacity` derives for one workload."""

    workload: Workload
    traffic: Traffic
    pool: PoolPlan
    pods: PodCounts
    stores: Stores
    replication: Replication
    nodes_needed: int
    nodes: int
    egress_bytes_month: float
    """API responses plus upload-once replication: the only bytes the nodes send out."""
    components: tuple[Component, ...]

    @property
    def bottleneck(self) -> Component:
        """The component closest to (or furthest past) its limit; the first listed wins a tie."""
        return max(self.components, key=lambda c: c.utilisation)

    def component(self, name: str) -> Component:
        """The component called ``name``."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


def _stores(w: Workload, t: Traffic, p: PoolPlan, pods: PodCounts, nodes: int) -> Stores:
    files = p.files
    retention_urls = t.url_requests_per_day * w.retention_days
    series = (
        sum(vars(pods).values()) * SERIES_PER_POD
        + p.accounts * SERIES_PER_ACCOUNT
        + nodes * SERIES_PER_NODE
    )
    return Stores(
        postgres_bytes=retention_urls * URL_ROW_BYTES
        + files * FILE_ROW_BYTES
        + p.copies * REPLICA_ROW_BYTES
        + p.accounts * ACCOUNT_ROW_BYTES
        + (files + p.accounts) * w.retention_days * DAY_STATS_ROW_BYTES,
        postgres_writes_per_s=t.peak_url_rps * WRITES_PER_URL,
        mongo_bytes=files * FILE_DOC_BYTES
        + p.copies * REPLICA_ROW_BYTES
        + p.accounts * ACCOUNT_DOC_BYTES,
        gridfs_staging_bytes=t.new_bytes_per_day * STAGING_DAYS + max(c.size_bytes for c in w.mix),
        redis_bytes=t.peak_url_rps * QUEUE_BUFFER_SECONDS * EVENT_BYTES,
        redis_ops_per_s=(t.peak_url_rps / URLS_PER_STATS_JOB + t.peak(t.new_files_per_day))
        * REDIS_OPS_PER_JOB,
        prometheus_series=series,
        etcd_bytes=(p.accounts + files) * OBJECT_BYTES,
        operator_reconciles_per_s=p.accounts / ACCOUNT_SYNC_SECONDS
        + 2 * t.peak(t.new_files_per_day),
    )


def _hot_postgres_bytes(w: Workload, t: Traffic, p: PoolPlan) -> float:
    # PostgreSQL's memory should hold what is read: the catalog and the last week of issued URLs.
    return (
        t.url_requests_per_day * HOT_DAYS * URL_ROW_BYTES
        + p.files * FILE_ROW_BYTES
        + p.copies * REPLICA_ROW_BYTES
        + p.accounts * ACCOUNT_ROW_BYTES
    )


def _service(
    name: str, label: str, pods: int, load: float, per_pod: float, unit: str, c: Capacities
) -> Component:
    return Component(
        name=name,
        label=label,
        units=pods,
        unit="pods",
        scales_out=True,
        vcpu=pods * c.pod_idle_vcpu + load / per_pod * c.pod_busy_vcpu,
        memory_bytes=pods * c.pod_memory_bytes,
        disk_bytes=0.0,
        constraints=(Constraint(f"{unit} per pod", load, pods * per_pod, unit),),
    )


def _single(
    name: str, label: str, vcpu: float, memory: float, disk: float, *limits: Constraint
) -> Component:
    return Component(name, label, 1, "instance", False, vcpu, memory, disk, limits)


def _components(
    w: Workload, t: Traffic, p: PoolPlan, pods: PodCounts, s: Stores, c: Capacities
) -> list[Component]:
    upload_bps = t.peak(t.new_bytes_per_day)
    pg_cache = min(64 * GIB, _hot_postgres_bytes(w, t, p))
    objects = p.accounts + p.files
    return [
        _service(
            "uploader", "Uploader", pods.uploader, upload_bps, c.uploader_bytes_per_s, "B/s", c
        ),
        _service(
            "downloader",
            "Downloader",
            pods.downloader,
            t.peak_api_rps,
            c.downloader_rps,
            "req/s",
            c,
        ),
        _service("stats", "Stats", pods.stats, t.peak_url_rps, c.stats_events_per_s, "events/s", c),
        _service(
            "replication-workers",
            "Replication workers",
            pods.replication_workers,
            upload_bps,
            c.worker_bytes_per_s,
            "B/s",
            c,
        ),
        _single(
            "postgresql",
            "PostgreSQL",
            0.25 + s.postgres_writes_per_s / c.postgres_writes_per_vcpu,
            GIB + pg_cache,
            s.postgres_bytes,
            Constraint(
                "writes/s (one primary)", s.postgres_writes_per_s, c.postgres_writes_per_s, "rows/s"
            ),
            Constraint("size (one volume)", s.postgres_bytes, c.postgres_max_bytes, "B"),
        ),
        _single(
            "mongodb",
            "MongoDB + GridFS",
            0.25 + upload_bps / c.mongo_ingest_bytes_per_vcpu,
            GIB,
            s.mongo_bytes + s.gridfs_staging_bytes,
            Constraint(
                "size (one volume)", s.mongo_bytes + s.gridfs_staging_bytes, c.mongo_max_bytes, "B"
            ),
        ),
        _single(
            "redis",
            "Redis (queues)",
            0.1 + s.redis_ops_per_s / REDIS_OPS_PER_VCPU,
            64 * MIB + s.redis_bytes,
            0.0,
            Constraint("commands/s (one thread)", s.redis_ops_per_s, c.redis_ops_per_s, "ops/s"),
            Constraint("memory (an hour of events)", s.redis_bytes, c.redis_max_bytes, "B"),
        ),
        _single(
            "operator",
            "Operator (kopf)",
            c.pod_idle_vcpu + s.operator_reconciles_per_s / c.operator_reconciles_per_s,
            c.pod_memory_bytes + objects * 2 * OBJECT_BYTES,
            0.0,
            Constraint(
                "reconciles/s (one active)",
                s.operator_reconciles_per_s,
                c.operator_reconciles_per_s,
                "1/s",
            ),
            Constraint("etcd objects", s.etcd_bytes, c.etcd_max_bytes, "B"),
        ),
        _single(
            "prometheus",
            "Prometheus",
            0.1 + s.prometheus_series / SERIES_PER_VCPU,
            256 * MIB + s.prometheus_series * SERIES_MEMORY_BYTES,
            s.prometheus_series * PROMETHEUS_DISK_BYTES_PER_SERIES,
            Constraint("active series", s.prometheus_series, c.prometheus_series, "series"),
        ),
        Component(
            "drive-pool",
            "Drive account pool",
            p.accounts,
            "accounts",
            True,
            0.0,
            0.0,
            0.0,
            (
                Constraint(
                    "daily download budget",
                    t.download_bytes_per_day,
                    p.accounts * w.account_daily_budget_bytes,
                    "B/day",
                ),
                Constraint("storage", p.storage_utilisation, 1.0, "share"),
                Constraint("daily upload cap (copies count)", p.upload_utilisation, 1.0, "share"),
            ),
        ),
    ]


def capacity(w: Workload, capacities: Capacities = CAPACITIES) -> CapacityPlan:
    """Accounts, pods, nodes, store sizes and every component's utilisation for ``w``."""
    t = traffic(w)
    p = pool(w, t)
    upload_bps = t.peak(t.new_bytes_per_day)
    pods = replicas_needed(
        ServiceLoads(
            api_rps=t.peak_api_rps,
            upload_bytes_per_s=upload_bps,
            stats_events_per_s=t.peak_url_rps,
            replicate_bytes_per_s=upload_bps,
        ),
        capacities=capacities,
        target_utilisation=w.target_utilisation,
    )
    # Prometheus' series depend on the node count and the node count on Prometheus' size: one
    # pass with a first estimate converges, since a node adds a negligible thousand series.
    first = _components(w, t, p, pods, _stores(w, t, p, pods, 1), capacities)
    nodes_needed = _nodes_needed(w, first)
    stores = _stores(w, t, p, pods, nodes_needed)
    services = _components(w, t, p, pods, stores, capacities)
    nodes_needed = _nodes_needed(w, services)
    nodes = nodes_needed if w.max_nodes is None else min(nodes_needed, w.max_nodes)
    upload_once = t.new_bytes_per_day * DAYS_PER_MONTH
    api_out = t.api_requests_per_day * DAYS_PER_MONTH * w.response_bytes
    egress = api_out + upload_once
    allowance = nodes * w.node.transfer_bytes_month
    limits = [
        Constraint(
            f"CPU ({nodes:,} × {w.node.vcpu:g} vCPU)",
            sum(c.vcpu for c in services),
            nodes * w.node.vcpu,
            "vCPU",
        ),
        Constraint(
            "memory", sum(c.memory_bytes for c in services), nodes * w.node.memory_bytes, "B"
        ),
    ]
    if allowance:
        limits.append(Constraint("monthly transfer allowance", egress, allowance, "B/month"))
    label = "VPS" if w.hosting is Hosting.VPS else "Kubernetes nodes"
    node_box = Component(
        "nodes", label, nodes, "nodes", w.max_nodes is None, 0.0, 0.0, 0.0, tuple(limits)
    )
    room = max(0.0, allowance - api_out)
    return CapacityPlan(
        workload=w,
        traffic=t,
        pool=p,
        pods=pods,
        stores=stores,
        replication=Replication(
            upload_once_bytes_month=upload_once,
            naive_bytes_month=upload_once * p.mean_replicas,
            max_new_bytes_month_upload_once=room if allowance else None,
            max_new_bytes_month_naive=room / p.mean_replicas if allowance else None,
        ),
        nodes_needed=nodes_needed,
        nodes=nodes,
        egress_bytes_month=egress,
        components=(node_box, *services),
    )


def _nodes_needed(w: Workload, components: list[Component]) -> int:
    vcpu = sum(c.vcpu for c in components)
    memory = sum(c.memory_bytes for c in components)
    u = w.target_utilisation
    return max(
        1,
        math.ceil(vcpu / (w.node.vcpu * u)),
        math.ceil(memory / (w.node.memory_bytes * u)),
    )


@dataclass(frozen=True)
class BreakingPoint:
    """The smallest user count at which a component goes past a limit."""

    component: str
    label: str
    constraint: str
    users: int


def breaking_points(w: Workload, capacities: Capacities = CAPACITIES) -> tuple[BreakingPoint, ...]:
    """What breaks as ``w`` grows, in order: each component that goes past a limit by
    :data:`MAX_USERS` users, with the user count where it does (found by bisection)."""

    def util(users: int, name: str) -> float:
        return capacity(replace(w, users=users), capacities).component(name).utilisation

    top = capacity(replace(w, users=MAX_USERS), capacities)
    points = []
    for comp in top.components:
        if comp.utilisation < 1:
            continue
        low, high = 0, MAX_USERS  # util(low) < 1 <= util(high); 0 users stands for "none"
        if util(1, comp.name) >= 1:
            high = 1
        while high - low > 1:
            mid = (low + high) // 2
            if util(mid, comp.name) >= 1:
                high = mid
            else:
                low = mid
        binding = capacity(replace(w, users=high), capacities).component(comp.name).binding
        points.append(BreakingPoint(comp.name, comp.label, binding.name, high))
    return tuple(sorted(points, key=lambda b: b.users))
