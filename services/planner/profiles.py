"""The two workloads the seeds describe, as :class:`~services.planner.model.Workload` templates.

A seed states only some figures; every other one is an assumption, written next to its value so
that a reader can disagree with it precisely (and change it with ``fileserver plan --set``).
"""

from __future__ import annotations

from collections.abc import Callable

from services.planner.model import (
    GIB,
    MIB,
    FileClass,
    Hosting,
    NodeType,
    Placement,
    Workload,
)

GB = 10**9
TB = 10**12


def seed_001(users: int) -> Workload:
    """Seed 001 (the core spec): 500 MB per user a month, 100 GB per account a day, one 5 TB VPS."""
    return Workload(
        users=users,
        # Stated: each monthly user may download 500 MB a month. Assumed: as 5 files of 100 MB.
        downloads_per_user_month=5,
        mix=(FileClass(name="file", share=1.0, size_bytes=100 * 10**6),),
        # Assumed: 20 % of the monthly users come on a given day, making 5 API calls each.
        active_share=0.2,
        requests_per_active_user_day=5,
        peak_factor=3.0,
        # Assumed: a 10 GB catalog (100 files), renewed once a month. Item 9 puts every file on
        # every account, which a free 15 GB account allows only for a catalog this small.
        catalog_files=100,
        new_content_share_month=1.0,
        hot_file_share=0.2,
        hot_download_share=0.8,
        chunk_bytes=64 * MIB,
        response_bytes=1_000,
        placement=Placement.AUTO,
        min_replicas=2,
        # Stated: 100 GB a day per account. Drive's facts: 15 GB free, 750 GB/day upload cap.
        account_daily_budget_bytes=100 * GB,
        account_storage_bytes=15 * GB,
        account_upload_cap_bytes=750 * GB,
        target_utilisation=0.8,
        storage_fill=0.9,
        # Stated: one VPS with 5 TB of transfer a month.
        hosting=Hosting.VPS,
        node=NodeType(
            name="VPS 4 vCPU / 8 GB / 160 GB / 5 TB",
            vcpu=4,
            memory_bytes=8 * GIB,
            disk_bytes=160 * GB,
            transfer_bytes_month=5 * TB,
        ),
        max_nodes=1,
        retention_days=365,
    )


def seed_000(users: int) -> Workload:
    """Seed 000: 10 GB files, 40 % video, 1,000 requests per user a day, on a public cloud."""
    return Workload(
        users=users,
        # Stated: 10 GB files, 40 % of them video. Assumed: each user fetches one a month (the
        # seed gives no volume per user); video is streamed by 64 MiB ranges (seed 002's chunks).
        downloads_per_user_month=1,
        mix=(
            FileClass(name="video", share=0.4, size_bytes=10 * GB, streamed=True),
            FileClass(name="other", share=0.6, size_bytes=10 * GB),
        ),
        # Stated: 1,000 requests per user a day, taken literally: every user, every day.
        active_share=1.0,
        requests_per_active_user_day=1_000,
        peak_factor=3.0,
        # Assumed: seed 002's library, 20,000 titles of 10 GB (200 TB), 1 % new each month.
        catalog_files=20_000,
        new_content_share_month=0.01,
        hot_file_share=0.2,
        hot_download_share=0.8,
        chunk_bytes=64 * MIB,
        response_bytes=1_000,
        placement=Placement.AUTO,
        min_replicas=2,
        # Assumed: Google One 2 TB accounts, since a free 15 GB account holds one 10 GB file.
        # Assumed: the same 100 GB/day download budget as a free account (Google publishes none).
        account_daily_budget_bytes=100 * GB,
        account_storage_bytes=2 * TB,
        account_upload_cap_bytes=750 * GB,
        target_utilisation=0.8,
        storage_fill=0.9,
        # Stated: "everything in the cloud (AWS)". Assumed: EKS on m6i.xlarge nodes.
        hosting=Hosting.CLOUD,
        node=NodeType(name="m6i.xlarge 4 vCPU / 16 GiB", vcpu=4, memory_bytes=16 * GIB),
        max_nodes=None,
        retention_days=365,
    )


PROFILES: dict[str, Callable[[int], Workload]] = {"seed-000": seed_000, "seed-001": seed_001}
"""Profile name (as ``--profile`` takes it) → workload for a number of users."""
