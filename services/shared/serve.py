"""Serving a service's app factory with uvicorn, with the options every service shares."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(factory: str, *, host: str, port: int, **options: Any) -> None:
    """Run ``factory`` (``"module:create_app"``) until a signal stops it.

    The access log is off: request counts and latencies are in each service's metrics.
    """
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        **options,
    )
