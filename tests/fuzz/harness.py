"""Schemathesis cases against an app's own OpenAPI, sent through an in-process ASGI client.

The schema is the one the app generates, fetched as ``GET /openapi.json`` through the same ASGI
client and loaded with ``schemathesis.openapi.from_dict`` (``from_asgi`` would start the app's
lifespan a second time, in schemathesis' own thread and event loop). Cases are generated first,
with a fixed seed and a small budget per operation (Hypothesis, derandomized, no example
database), then sent one by one through the ``httpx.AsyncClient`` whose ASGI transport reaches
the app that the test fixtures started on real servers, in the test's own event loop. Each
response goes through schemathesis' checks; every failure is collected with the request that
caused it, so one run reports all of them.
"""

from __future__ import annotations

import json
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.openapi.checks import UndefinedStatusCode

# The checks that judge one response by itself. Checks that send requests of their own
# (ignored_auth, unsupported_method, use_after_free, ...) would go through schemathesis'
# transport, not the test's client; authentication is proven by tests/security instead.
RESPONSE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
NEGATIVE_CHECKS = (*RESPONSE_CHECKS, "negative_data_rejection")

_PLANS: dict[tuple[Any, ...], list[tuple[Any, GenerationMode, list[Case]]]] = {}

Headers = Callable[[str, str], dict[str, str]]
"""Credentials for one operation: (method, path template) → headers."""


def no_credentials(_method: str, _path: str) -> dict[str, str]:
    return {}


@dataclass
class FuzzRun:
    """What one run sent and what the checks found."""

    service: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    undocumented: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    """4xx codes an operation answered that its OpenAPI does not list (reported, not failed)."""
    generation_seconds: float = 0.0
    unsendable: int = 0
    """Generated cases the HTTP client cannot encode (not sent, not counted in ``cases``)."""

    def summary(self) -> str:
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items()))
        undocumented = sum(len(codes) for codes in self.undocumented.values())
        return (
            f"{self.service}: {self.cases} cases ({codes}); {self.server_errors} 5xx; "
            f"{len(self.failures)} check failures; {undocumented} undocumented 4xx "
            f"(operation, code) pairs; generation {self.generation_seconds:.1f} s"
        )

    def report(self) -> str:
        return self.summary() + "\n\n" + "\n\n".join(self.failures)


def _undocumented_client_error(failure: BaseException) -> bool:
    """A 4xx status missing from the operation's documented responses.

    FastAPI documents only the success and the 422 of each operation, not the 401, 404, 409
    or 413 the handlers raise; such answers are tallied in ``FuzzRun.undocumented`` (see
    docs/security.md, "Fuzzing"). An undocumented 2xx, 3xx or 5xx is still a failure.
    """
    return isinstance(failure, UndefinedStatusCode) and 400 <= failure.status_code < 500


async def load_schema(client: httpx.AsyncClient) -> Any:
    """The app's generated OpenAPI document (from the app itself) as a schemathesis schema."""
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    return schemathesis.openapi.from_dict(answer.json())


def operations(schema: Any, skip: Iterable[tuple[str, str]] = ()) -> list[Any]:
    """Every operation of the schema but the (METHOD, path) pairs in ``skip``."""
    skipped = {(method.upper(), path) for method, path in skip}
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in skipped:
            found.append(operation)
    return found


def generate(operation: Any, mode: GenerationMode, max_examples: int) -> list[Case]:
    """Up to ``max_examples`` cases of one operation, the same ones on every run."""
    cases: list[Case] = []

    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    def collect(case: Case) -> None:
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:  # e.g. no parameter to violate in negative mode
        return []
    return cases


def _request_kwargs(case: Case, headers: dict[str, str]) -> dict[str, Any]:
    """The case as keyword arguments of ``httpx.AsyncClient.request``."""
    sent = case.as_transport_kwargs(base_url="http://app", headers=headers)
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "params": sent.get("params") or None,
        "headers": {k: str(v) for k, v in (sent.get("headers") or {}).items()},
    }
    cookies = sent.get("cookies") or {}
    if cookies:  # per-request cookies are deprecated in httpx: send the header
        kwargs["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if "json" in sent:
        kwargs["content"] = json.dumps(sent["json"]).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    data = sent.get("data")
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    if sent.get("files"):
        kwargs["files"] = sent["files"]
    return kwargs


async def run(
    service: str,
    client: httpx.AsyncClient,
    schema: Any,
    *,
    passes: Iterable[Headers] = (no_credentials,),
    max_examples: int = 4,
    modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    skip: Iterable[tuple[str, str]] = (),
) -> FuzzRun:
    """Send every generated case of every operation once per pass (set of credentials)."""
    from schemathesis import checks as st_checks

    result = FuzzRun(service)
    started = time.monotonic()
    key = (service, max_examples, tuple(modes), tuple(skip))
    if key not in _PLANS:  # the same schema on another database: the same cases
        _PLANS[key] = [
            (operation, mode, generate(operation, mode, max_examples))
            for operation in operations(schema, skip)
            for mode in key[2]
        ]
    plan = _PLANS[key]
    result.generation_seconds = time.monotonic() - started
    for credentials in passes:
        for operation, mode, cases in plan:
            headers = credentials(operation.method.upper(), operation.path)
            names = RESPONSE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
            selected = [getattr(st_checks, name) for name in names]
            label = f"{operation.method.upper()} {operation.path} ({mode.value})"
            for case in cases:
                await _send(result, client, case, headers, selected, label)
    return result


async def _send(
    result: FuzzRun,
    client: httpx.AsyncClient,
    case: Case,
    headers: dict[str, str],
    checks: list[Any],
    label: str,
) -> None:
    kwargs = _request_kwargs(case, headers)
    try:
        request = client.build_request(**kwargs)
        await request.aread()  # multipart bodies stream; schemathesis reads the request back
    except (UnicodeEncodeError, TypeError, AttributeError):
        # A case httpx cannot encode: a multipart filename outside Latin-1, or a generated
        # part that is not bytes (an integer where the schema's binary file goes).
        result.unsendable += 1
        return
    result.cases += 1
    try:
        response = await client.send(request)
    except Exception as exc:  # the ASGI transport re-raises what the app did not handle
        result.server_errors += 1
        result.statuses[500] += 1
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        result.failures.append(
            f"--- {label}\nunhandled {type(exc).__name__}: {exc}\n"
            f"{kwargs['method']} {kwargs['url']} params={kwargs['params']}\n{where}"
        )
        return
    result.statuses[response.status_code] += 1
    if response.status_code >= 500:
        result.server_errors += 1
    try:
        case.validate_response(response, checks=checks, headers=headers)
    except (AssertionError, BaseExceptionGroup) as exc:
        found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        real = [f for f in found if not _undocumented_client_error(f)]
        if len(real) < len(found):
            result.undocumented[label.rsplit(" (", 1)[0]].add(response.status_code)
        if real:
            details = "\n".join(str(f) for f in real)
            result.failures.append(f"--- {label}: {kwargs['method']} {kwargs['url']}\n{details}")
