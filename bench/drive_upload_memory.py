"""Memory and speed of the Drive client's streamed upload, against a raw HTTP baseline.

Uploads a stream of ``--size-mib`` MiB (1 GiB by default) to a Drive emulator process on
loopback, twice, and prints one row per run:

1. through :class:`services.drive.client.DriveClient` (google-api-python-client, resumable,
   ``--chunk-mib`` chunks, the async source bridged into the library's worker threads);
2. as a baseline, the same bytes in a single streamed ``PUT`` to a resumable session with
   httpx: no chunking, no threads, the least a client can do.

For each: the peak growth of this process's RSS during the upload (sampled every 10 ms), in
MiB and in chunks, and the throughput; then the client's throughput relative to the baseline.
The source yields the same pre-made 1 MiB block again and again, so the bytes being sent never
accumulate anywhere but in the uploader under test.

    uv run python bench/drive_upload_memory.py [--size-mib 1024] [--chunk-mib 8] [--json PATH]

``--json PATH`` also writes the figures there (``python -m bench`` collects them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from tests.utils.drive import Emulator, EmulatorAccount
from tests.utils.memory import RssSampler

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    rss_growth: int

    def row(self, size: int, chunk: int) -> str:
        speed = size / MiB / self.seconds
        return (
            f"| {self.name} | {size // MiB} MiB | {self.seconds:.1f} s | {speed:.0f} MiB/s "
            f"| {self.rss_growth / MiB:.1f} MiB | {self.rss_growth / chunk:.1f} |"
        )


async def source(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // MiB):
        yield BLOCK


async def measure(name: str, upload: Callable[[], Awaitable[None]]) -> Run:
    with RssSampler() as memory:
        started = time.perf_counter()
        await upload()
        seconds = time.perf_counter() - started
    return Run(name, seconds, memory.growth)


async def client_upload(url: str, account: EmulatorAccount, size: int, chunk: int) -> None:
    settings = DriveSettings(root_url=url, chunk_size=chunk)
    async with DriveClient(account.parsed(), settings, account_id=account.id) as client:
        uploaded = await client.upload(source(size), "bench-client.bin", size)
        assert uploaded.size == size
        await client.delete(uploaded.id)


async def raw_upload(url: str, account: EmulatorAccount, size: int) -> None:
    creds = account.credentials
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        token = (
            await http.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                    "refresh_token": creds["refresh_token"],
                },
            )
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        started = await http.post(
            "/upload/drive/v3/files",
            params={"uploadType": "resumable"},
            json={"name": "bench-raw.bin"},
            headers={"X-Upload-Content-Length": str(size)},
        )
        done = await http.put(
            started.headers["location"],
            content=source(size),
            headers={"Content-Length": str(size)},
        )
        done.raise_for_status()
        await http.delete(f"/drive/v3/files/{done.json()['id']}")


async def main(size: int, chunk: int) -> dict[str, object]:
    """Run both uploads, print the table; returns the figures (for ``--json``)."""
    with tempfile.TemporaryDirectory(prefix="drive-bench-") as folder:
        emulator = Emulator(Path(folder))
        emulator.start()
        admin = emulator.admin()
        try:
            account = await admin.create_account()
            runs = [
                await measure(
                    "DriveClient.upload", lambda: client_upload(emulator.url, account, size, chunk)
                ),
                await measure(
                    "raw httpx PUT (baseline)", lambda: raw_upload(emulator.url, account, size)
                ),
            ]
        finally:
            await admin.aclose()
            emulator.stop()
    print(f"chunk size {chunk // MiB} MiB, {os.cpu_count()} CPUs, emulator on loopback\n")
    print("| upload | size | time | throughput | peak RSS growth | in chunks |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        print(run.row(size, chunk))
    ratio = runs[1].seconds / runs[0].seconds
    print(f"\nclient throughput / baseline throughput: {ratio:.2f}")
    figures = [
        {
            "name": run.name,
            "seconds": run.seconds,
            "mib_per_s": size / MiB / run.seconds,
            "rss_growth_mib": run.rss_growth / MiB,
        }
        for run in runs
    ]
    return {"size_mib": size // MiB, "chunk_mib": chunk // MiB, "runs": figures, "ratio": ratio}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = asyncio.run(main(args.size_mib * MiB, args.chunk_mib * MiB))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
