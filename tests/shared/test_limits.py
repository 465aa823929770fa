"""Request limits: oversized headers 431, oversized JSON 413, stalled bodies 408.

The middleware is checked in process on a small app, then on a real Downloader process
(uvicorn, httptools) with raw sockets, since what it guards against is what a client does on
the wire.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from services.shared.limits import RequestLimitSettings, RequestLimitsMiddleware
from tests.utils.services import ServiceProcess

LIMITS = RequestLimitSettings(
    max_header_bytes=2048, max_json_bytes=4096, body_idle_timeout_seconds=0.3
)


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestLimitsMiddleware, limits=LIMITS)

    @app.post("/json")
    async def take_json(payload: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(payload)}

    @app.post("/raw")
    async def take_raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


@pytest.mark.unit
async def test_requests_within_the_limits_pass(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ping")).json() == {"pong": "yes"}
    assert (await client.post("/json", json={"a": 1, "b": 2})).json() == {"keys": 2}
    # Not JSON: only the upload's own limit applies, not the JSON one.
    assert (await client.post("/raw", content=b"x" * 10_000)).json() == {"bytes": 10_000}


@pytest.mark.unit
async def test_oversized_headers_are_431(client: httpx.AsyncClient) -> None:
    answer = await client.get("/ping", headers={"X-Filler": "y" * 3000})
    assert answer.status_code == 431
    assert "the limit is 2048" in answer.json()["detail"]


@pytest.mark.unit
async def test_a_declared_oversized_json_body_is_413(client: httpx.AsyncClient) -> None:
    answer = await client.post("/json", json={"blob": "z" * 5000})
    assert answer.status_code == 413
    assert answer.json()["detail"].endswith("the limit is 4096")


@pytest.mark.unit
async def test_a_streamed_oversized_json_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        body = json.dumps({"blob": "z" * 5000}).encode()
        for at in range(0, len(body), 1000):
            yield body[at : at + 1000]

    answer = await client.post(
        "/json", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert "over the limit of 4096" in answer.json()["detail"]


@pytest.mark.unit
async def test_a_stalled_body_is_408() -> None:
    sent: list[dict[str, Any]] = []
    stalled = asyncio.Event()  # never set: the client sent the headers and then nothing

    async def receive() -> dict[str, Any]:
        await stalled.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/raw",
        "raw_path": b"/raw",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await _app()(scope, receive, send)
    assert sent[0]["status"] == 408
    assert "request body" in json.loads(sent[1]["body"])["detail"]


# --- a real process --------------------------------------------------------------------------


@pytest.fixture
def downloader(tmp_path: Path, redis_url: str) -> Iterator[ServiceProcess]:
    env = {
        "FILESERVER_DOWNLOADER_REDIS_URL": redis_url,
        "FILESERVER_DOWNLOADER_STATE_DIR": str(tmp_path / "state"),
        "FILESERVER_DOWNLOADER_ADMIN_TOKEN": "limits-test-admin-0123456789",
        "FILESERVER_DOWNLOADER_INTERNAL_TOKEN": "limits-test-internal-0123456789",
        "FILESERVER_DOWNLOADER_MAX_HEADER_BYTES": "4096",
        "FILESERVER_DOWNLOADER_BODY_IDLE_TIMEOUT_SECONDS": "1",
        "FILESERVER_DRIVE_ROOT_URL": "http://127.0.0.1:9/",  # URLs are never fetched here
    }
    process = ServiceProcess("services.downloader", env, tmp_path, prefix="FILESERVER_DOWNLOADER_")
    try:
        process.start()
        yield process
    finally:
        process.stop()


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` as is and read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.integration
def test_a_real_service_refuses_big_headers_and_stalled_bodies(
    downloader: ServiceProcess,
) -> None:
    big = _exchange(
        downloader.port,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"y" * 5000 + b"\r\n\r\n",
    )
    assert big.startswith(b"HTTP/1.1 431 ")
    assert b"the limit is 4096" in big
    # Ten bytes of a declared hundred, then silence: refused after the idle timeout.
    stalled = _exchange(
        downloader.port,
        b"POST /internal/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"events": [',
    )
    assert stalled.startswith(b"HTTP/1.1 408 ")
    assert b"no part of the request body arrived for 1 s" in stalled
    # And the service still answers.
    assert httpx.get(f"{downloader.url}/healthz").status_code == 200
