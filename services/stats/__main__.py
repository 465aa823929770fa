"""Run Stats: ``python -m services.stats`` (queue worker + probes/metrics on host:port)."""

from __future__ import annotations

import uvicorn

from services.stats.config import get_settings


def main() -> None:
    """Serve the Stats app (whose lifespan runs the worker) with the settings' host and port."""
    settings = get_settings()
    uvicorn.run(
        "services.stats.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
