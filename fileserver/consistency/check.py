"""Collect and compare, once or until the system converges (the library entry point)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from fileserver.consistency.collect import CollectError, Endpoints, collect
from fileserver.consistency.compare import compare
from fileserver.consistency.model import CheckResult, Truth


def check(endpoints: Endpoints, truth: Truth | None = None) -> CheckResult:
    """Every discrepancy between the sides right now."""
    return compare(collect(endpoints), truth)


@dataclass(frozen=True)
class Convergence:
    result: CheckResult  # the last check: consistent unless the deadline passed
    seconds: float  # from the call until that check
    checks: int


def wait_converged(
    endpoints: Endpoints, truth: Truth | None = None, *, within: float, poll: float = 1.0
) -> Convergence:
    """Check until no discrepancy is left or ``within`` seconds passed (a side that cannot be
    read counts as not converged yet: it may be restarting)."""
    started = time.monotonic()
    checks: list[CheckResult] = []

    def once() -> CheckResult:
        result = check(endpoints, truth)
        checks.append(result)
        return result

    try:
        result = Retrying(
            stop=stop_after_delay(within),
            wait=wait_fixed(poll),
            retry=retry_if_result(lambda r: not r.consistent)
            | retry_if_exception_type(CollectError),
        )(once)
    except RetryError as exc:
        result = exc.last_attempt.result()  # re-raises a CollectError still failing
    return Convergence(result, time.monotonic() - started, len(checks))
