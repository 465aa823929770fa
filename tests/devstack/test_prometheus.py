"""Prometheus from the devstack scrapes an exporter the test starts and answers PromQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

from fileserver.devstack.servers import Prometheus

pytestmark = pytest.mark.integration


@pytest.fixture
def exporter() -> Iterator[tuple[int, float]]:
    """A real /metrics endpoint on a free loopback port exposing one gauge."""
    registry = CollectorRegistry()
    value = float(uuid.uuid4().int % 10_000)
    Gauge("devstack_smoke_value", "A value the test reads back", registry=registry).set(value)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield server.server_port, value
    server.shutdown()
    server.server_close()
    thread.join()


def test_scrapes_exporter_and_answers_promql(
    prometheus: Prometheus, exporter: tuple[int, float]
) -> None:
    port, value = exporter
    job = f"smoke-{uuid.uuid4().hex[:8]}"
    target_file = prometheus.register_target(job, f"127.0.0.1:{port}")
    api = f"http://127.0.0.1:{prometheus.port}/api/v1/query"

    @retry(stop=stop_after_delay(60), wait=wait_fixed(0.5), retry=retry_if_result(lambda r: not r))
    def query() -> list[dict[str, object]]:
        body = httpx.get(api, params={"query": f'devstack_smoke_value{{job="{job}"}}'}).json()
        assert body["status"] == "success"
        return list(body["data"]["result"])

    try:
        result = query()
    finally:
        target_file.unlink()
    assert len(result) == 1
    sample = result[0]
    assert isinstance(sample, dict)
    assert float(sample["value"][1]) == value  # type: ignore[index]
    assert sample["metric"]["instance"] == f"127.0.0.1:{port}"  # type: ignore[index]
