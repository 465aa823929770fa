"""Run the Uploader API: ``python -m services.uploader`` (uvicorn; settings from the env)."""

from __future__ import annotations

from services.shared.serve import serve
from services.uploader.config import get_settings


def main() -> None:
    """Serve the API on the configured host and port."""
    settings = get_settings()
    serve("services.uploader.main:create_app", host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
