"""Settings of the Drive client (environment prefix ``FILESERVER_DRIVE_``).

The same client talks to Google or to the project's emulator: only ``root_url`` (and the two web
hosts download URLs use) change. When ``root_url`` points somewhere other than Google and the web
hosts are left unset, they follow ``root_url``, so one variable moves everything to the emulator.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GOOGLE_ROOT_URL = "https://www.googleapis.com/"
GOOGLE_WEB_URL = "https://drive.google.com/"
GOOGLE_USERCONTENT_URL = "https://drive.usercontent.google.com/"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"

# Drive requires every chunk of a resumable upload but the last to be a multiple of 256 KiB.
CHUNK_GRANULARITY = 256 * 1024
MiB = 1024 * 1024


class DownloadUrlForm(StrEnum):
    """How the download URLs handed to users are built (see docs/drive.md for trade-offs)."""

    API = "api"
    USERCONTENT = "usercontent"
    UC = "uc"


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class DriveSettings(BaseSettings):
    """Endpoint, transfer, URL and retry settings shared by every account's client."""

    model_config = SettingsConfigDict(env_prefix="FILESERVER_DRIVE_", extra="ignore")

    root_url: str = Field(
        default=GOOGLE_ROOT_URL, description="Drive API root (the emulator's URL in development)"
    )
    web_url: str = Field(default=GOOGLE_WEB_URL, description="host of uc?export=download links")
    usercontent_url: str = Field(
        default=GOOGLE_USERCONTENT_URL, description="host of download?confirm=t links"
    )
    scopes: list[str] = Field(default_factory=lambda: [DRIVE_SCOPE])

    chunk_size: int = Field(default=8 * MiB, description="resumable upload chunk, 256 KiB multiple")
    concurrency_per_account: int = Field(default=4, ge=1, le=64)
    http_timeout_seconds: float = Field(default=120.0, gt=0)
    source_timeout_seconds: float = Field(
        default=300.0, gt=0, description="longest wait for the next bytes of an upload's source"
    )

    url_form: DownloadUrlForm = DownloadUrlForm.API
    api_key: SecretStr | None = Field(
        default=None, description="public, Drive-restricted API key the api form needs at Google"
    )
    uc_max_bytes: int = Field(
        default=100 * 10**6,
        ge=0,
        description="uc form: larger files get the usercontent form (Drive's virus-scan page)",
    )

    retry_max_attempts: int = Field(default=6, ge=1)
    retry_initial_seconds: float = Field(default=1.0, ge=0)
    retry_max_seconds: float = Field(default=32.0, ge=0)
    retry_jitter_seconds: float = Field(default=1.0, ge=0)

    @field_validator("root_url", "web_url", "usercontent_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return _with_slash(value)

    @field_validator("chunk_size")
    @classmethod
    def _chunk_multiple(cls, value: int) -> int:
        if value <= 0 or value % CHUNK_GRANULARITY:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_GRANULARITY}")
        return value

    @model_validator(mode="after")
    def _web_hosts_follow_root(self) -> Self:
        if self.root_url != GOOGLE_ROOT_URL:
            if "web_url" not in self.model_fields_set:
                self.web_url = self.root_url
            if "usercontent_url" not in self.model_fields_set:
                self.usercontent_url = self.root_url
        return self

    @property
    def is_google(self) -> bool:
        """Whether the API endpoint is Google's own (then the api URL form needs a key)."""
        return self.root_url == GOOGLE_ROOT_URL


@lru_cache
def get_settings() -> DriveSettings:
    """The process's Drive settings, read once from the environment."""
    return DriveSettings()
