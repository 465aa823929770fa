"""Download URL forms and the settings that choose them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr, ValidationError

from services.drive.config import DownloadUrlForm, DriveSettings
from services.drive.urls import DownloadUrlConfigError, check_url_settings, download_url

pytestmark = pytest.mark.unit

EMULATOR = "http://127.0.0.1:8090"
GB = 10**9


def test_chunk_size_must_be_a_multiple_of_256_kib() -> None:
    with pytest.raises(ValidationError, match="multiple of 262144"):
        DriveSettings(chunk_size=1000 * 1000)
    assert DriveSettings(chunk_size=512 * 1024).chunk_size == 512 * 1024


def test_web_hosts_follow_a_non_google_root() -> None:
    settings = DriveSettings(root_url=EMULATOR)
    assert settings.root_url == EMULATOR + "/"
    assert settings.web_url == EMULATOR + "/"
    assert settings.usercontent_url == EMULATOR + "/"
    pinned = DriveSettings(root_url=EMULATOR, web_url="http://web.test")
    assert pinned.web_url == "http://web.test/"


def test_api_form_at_google_needs_an_api_key() -> None:
    settings = DriveSettings(url_form=DownloadUrlForm.API)
    with pytest.raises(DownloadUrlConfigError, match="API_KEY"):
        check_url_settings(settings)
    keyed = settings.model_copy(update={"api_key": SecretStr("AIza-public-key")})
    url = download_url(keyed, "abc", 5 * GB)
    parts = urlsplit(url)
    assert parts.netloc == "www.googleapis.com"
    assert parts.path == "/drive/v3/files/abc"
    assert parse_qs(parts.query) == {
        "alt": ["media"],
        "acknowledgeAbuse": ["true"],
        "key": ["AIza-public-key"],
    }


def test_api_form_on_the_emulator_needs_no_key() -> None:
    settings = DriveSettings(root_url=EMULATOR, url_form=DownloadUrlForm.API)
    url = download_url(settings, "a/b", 10)
    assert url == f"{EMULATOR}/drive/v3/files/a%2Fb?alt=media&acknowledgeAbuse=true"


def test_usercontent_form_confirms_the_scan_warning() -> None:
    settings = DriveSettings(url_form=DownloadUrlForm.USERCONTENT)
    url = download_url(settings, "abc", 5 * GB)
    assert url == "https://drive.usercontent.google.com/download?id=abc&export=download&confirm=t"


def test_uc_form_only_below_the_scan_threshold() -> None:
    settings = DriveSettings(url_form=DownloadUrlForm.UC, uc_max_bytes=100 * 10**6)
    assert download_url(settings, "abc", 10**6) == (
        "https://drive.google.com/uc?id=abc&export=download"
    )
    assert "drive.usercontent.google.com/download" in download_url(settings, "abc", 2 * GB)
