"""Run Stats: ``python -m services.stats`` (queue worker + probes/metrics on host:port)."""

from __future__ import annotations

from services.shared.serve import serve
from services.stats.config import get_settings


def main() -> None:
    """Serve the Stats app (whose lifespan runs the worker) with the settings' host and port."""
    settings = get_settings()
    serve("services.stats.main:create_app", host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
