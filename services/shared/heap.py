"""Keeping the objects every service holds for its whole life out of the garbage collector.

Once a service has started, its modules, FastAPI routes, SQLAlchemy and pydantic metadata and
loaded state (about 150 000 objects in the Downloader) never become garbage, yet each full
collection walks all of them. Under load a service keeps some objects alive a little while (a
request waiting for its group commit, a stats window), they reach the oldest generation and
full collections follow: in the Downloader at 3 500 requests/s, five in six seconds of up to
164 ms each, the whole process stopped (11 % of its CPU; p99 latency 147 ms at 64 connections,
against 20–30 ms for the bare endpoint). Frozen after start-up, a full collection took 5 ms
and the p99 fell to 27 ms (measured in process, docs/performance.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Around a lifespan's ``yield``: every object alive once start-up is done goes to the
    collector's permanent generation (``gc.freeze``) while the service serves, and comes back
    when it stops (so that a process running several apps in turn, as the tests do, leaks none).

    Frozen objects are still freed by reference counting; only cycles among them wait.
    """
    gc.collect()  # what start-up left as garbage goes now, not into the permanent generation
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
