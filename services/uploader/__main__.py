"""Run the Uploader API: ``python -m services.uploader`` (uvicorn; settings from the env)."""

from __future__ import annotations

import uvicorn

from services.uploader.config import get_settings


def main() -> None:
    """Serve the API on the configured host and port."""
    settings = get_settings()
    uvicorn.run(
        "services.uploader.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
