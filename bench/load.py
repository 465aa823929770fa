"""A small, fast HTTP/1.1 load generator: keep-alive connections on raw asyncio streams.

httpx costs about a millisecond of CPU per request, which on a small machine would measure the
client rather than the server; this client parses only the status line and Content-Length.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Requests completed, statuses and latencies of one run."""

    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    cpu_per_request: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _connection(
    host: str, port: int, paths: list[str], until: float, result: LoadResult, offset: int
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = offset
    try:
        while time.perf_counter() < until:
            path = paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run_load(
    host: str, port: int, paths: list[str], *, connections: int, seconds: float
) -> LoadResult:
    """Keep ``connections`` requests in flight for ``seconds``, cycling through ``paths``."""
    result = LoadResult(seconds)
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, paths, until, result, i) for i in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result
