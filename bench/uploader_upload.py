"""Memory and speed of an upload through the Uploader, against writing GridFS directly.

Starts the Uploader API as a process (``python -m services.uploader``) on the devstack's
FerretDB and Redis (a fresh database, dropped at the end), then writes ``--size-mib`` MiB
(2 GiB by default) twice, in this order:

1. directly to GridFS from this process (PyMongo's async bucket, the Uploader's chunk size):
   the fastest a local client can put the same bytes into the same store;
2. through ``POST /files`` of the Uploader, streamed with httpx (HTTP, request parsing,
   sha256, size checks, GridFS, the file record and the queued job included).

Both sources yield the same pre-made 1 MiB block again and again, so no input accumulates in
memory. While the second upload runs, the Uploader process's RSS is sampled every 20 ms
(``/proc/<pid>/statm``); growth is the peak minus the RSS just before the upload (after a small
warm-up upload). Prints a Markdown table row per run and the ratio of the throughputs.

    uv run fileserver dev up --no-cluster     # FerretDB and Redis
    uv run python bench/uploader_upload.py [--size-mib 2048] [--chunk-mib 1] [--json PATH]

``--json PATH`` also writes the figures there (``python -m bench`` collects them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from gridfs import AsyncGridFSBucket
from pymongo import AsyncMongoClient
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from fileserver.devstack.config import Ports
from fileserver.devstack.servers import LOOPBACK

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)
PAGE = os.sysconf("SC_PAGE_SIZE")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    name: str
    size: int
    seconds: float
    rss_growth: int | None

    @property
    def speed(self) -> float:
        return self.size / MiB / self.seconds

    def row(self) -> str:
        growth = "n/a" if self.rss_growth is None else f"{self.rss_growth / MiB:.1f} MiB"
        return (
            f"| {self.name} | {self.size // MiB} MiB | {self.seconds:.1f} s "
            f"| {self.speed:.1f} MiB/s | {growth} |"
        )


class PidRss:
    """Peak resident memory of another process, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.statm = Path(f"/proc/{pid}/statm")
        self.interval = interval
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return int(self.statm.read_text().split()[1]) * PAGE

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PidRss:
        self.start = self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


async def blocks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // MiB):
        yield BLOCK


async def direct(mongo_url: str, database: str, size: int, chunk: int) -> Run:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    try:
        bucket = AsyncGridFSBucket(client[database], bucket_name="direct")
        started = time.perf_counter()
        async with bucket.open_upload_stream("direct.bin", chunk_size_bytes=chunk) as upload:
            async for block in blocks(size):
                await upload.write(block)
        seconds = time.perf_counter() - started
        await bucket.delete(upload._id)
    finally:
        await client.close()
    return Run("GridFS directly (baseline)", size, seconds, None)


def start_uploader(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FILESERVER_UPLOADER_")}
    full |= env | {"FILESERVER_UPLOADER_PORT": str(port)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.uploader"],
            cwd=PROJECT_ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(60),
        wait=wait_fixed(0.2),
        retry=retry_if_exception_type((httpx.HTTPError, AssertionError)),
        reraise=True,
    ):
        with attempt:
            assert process.poll() is None, "the Uploader exited (see its log)"
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/readyz")).status_code == 200


async def through_uploader(url: str, token: str, pid: int, size: int) -> Run:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        warm = await http.post("/files", params={"name": "warm-up"}, content=BLOCK, headers=headers)
        warm.raise_for_status()
        with PidRss(pid) as rss:
            started = time.perf_counter()
            answer = await http.post(
                "/files", params={"name": "bench.bin"}, content=blocks(size), headers=headers
            )
            seconds = time.perf_counter() - started
        answer.raise_for_status()
        assert answer.json()["size"] == size, answer.text
    return Run("POST /files through the Uploader", size, seconds, rss.peak - rss.start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunk-mib", type=int, default=1, help="GridFS chunk size")
    ports = Ports()  # the devstack's, wherever FILESERVER_DEV_PORT_* puts them
    parser.add_argument("--mongo-url", default=f"mongodb://{LOOPBACK}:{ports.ferretdb}/")
    parser.add_argument("--redis-url", default=f"redis://{LOOPBACK}:{ports.redis}/3")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    size, chunk = args.size_mib * MiB, args.chunk_mib * MiB
    database = f"bench_uploader_{secrets.token_hex(4)}"
    token = secrets.token_urlsafe(24)
    port = 18000 + secrets.randbelow(1000)
    url = f"http://127.0.0.1:{port}"
    env = {
        "FILESERVER_UPLOADER_MONGO_URL": args.mongo_url,
        "FILESERVER_UPLOADER_MONGO_DB": database,
        "FILESERVER_UPLOADER_REDIS_URL": args.redis_url,
        "FILESERVER_UPLOADER_QUEUE_NAME": f"bench-{database}",
        "FILESERVER_UPLOADER_ADMIN_TOKEN": token,
        "FILESERVER_UPLOADER_DOWNLOADER_INTERNAL_TOKEN": secrets.token_urlsafe(24),
        "FILESERVER_UPLOADER_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "FILESERVER_UPLOADER_CHUNK_BYTES": str(chunk),
        "FILESERVER_UPLOADER_MAX_UPLOAD_BYTES": str(size + MiB),
    }
    log = PROJECT_ROOT / ".state" / "bench-uploader.log"
    log.parent.mkdir(exist_ok=True)
    process = start_uploader(env, port, log)
    try:
        await wait_ready(url, process)
        runs = [
            await direct(args.mongo_url, database, size, chunk),
            await through_uploader(url, token, process.pid, size),
        ]
    finally:
        process.terminate()
        process.wait(timeout=30)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(args.mongo_url)
        await client.drop_database(database)
        await client.close()
    print("| upload | size | time | throughput | Uploader RSS growth |")
    print("| --- | --- | --- | --- | --- |")
    for run in runs:
        print(run.row())
    ratio = runs[1].speed / runs[0].speed
    print(f"\nthroughput ratio (Uploader / direct GridFS): {ratio:.2f}")
    if args.json is not None:
        figures = [
            {
                "name": run.name,
                "seconds": run.seconds,
                "mib_per_s": run.speed,
                "rss_growth_mib": None if run.rss_growth is None else run.rss_growth / MiB,
            }
            for run in runs
        ]
        result = {"size_mib": size // MiB, "chunk_mib": chunk // MiB, "runs": figures}
        args.json.write_text(json.dumps(result | {"ratio": ratio}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
