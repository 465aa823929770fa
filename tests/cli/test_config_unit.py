"""Pure parts of the client: where settings come from, range splitting, error mapping."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fileserver.client.config import ClientConfig
from fileserver.client.errors import ClientError, ExitCode, response_error
from fileserver.client.transfer import split

pytestmark = pytest.mark.unit


def test_flags_over_env_over_file_over_local_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILESERVER_DEV_STATE_DIR", str(tmp_path / "state"))  # no secrets there
    monkeypatch.setenv("FILESERVER_SYSTEM_DOWNLOADER_PORT", "18002")
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[uploader]\nurl = "http://file-up/"\ntoken = "file-token"\n'
        '[downloader]\ntoken = "file-down-token"\n'
    )
    monkeypatch.setenv("FILESERVER_TOKEN_UPLOADER", "env-token")

    config = ClientConfig.resolve(config_file=config_file, downloader_token="flag-token")

    assert config.uploader_url == "http://file-up"  # file, trailing slash dropped
    assert config.uploader_token == "env-token"  # env over file
    assert config.downloader_token == "flag-token"  # flag over everything
    assert config.downloader_url == "http://127.0.0.1:18002"  # the local system's port


def test_an_explicit_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as caught:
        ClientConfig.resolve(config_file=tmp_path / "missing.toml")
    assert caught.value.code is ExitCode.USAGE


@pytest.mark.parametrize(
    ("size", "parts", "expected"),
    [
        (10, 4, [(0, 3), (3, 3), (6, 2), (8, 2)]),
        (3, 8, [(0, 1), (1, 1), (2, 1)]),
        (0, 4, [(0, 0)]),
        (5, 1, [(0, 5)]),
    ],
)
def test_split_covers_every_byte_once(
    size: int, parts: int, expected: list[tuple[int, int]]
) -> None:
    assert split(size, parts) == expected


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, ExitCode.UNAUTHORIZED),
        (404, ExitCode.NOT_FOUND),
        (409, ExitCode.NOT_READY),
        (422, ExitCode.USAGE),
        (500, ExitCode.FAILED),
        (503, ExitCode.FAILED),
    ],
)
def test_http_status_maps_to_exit_code(status: int, code: ExitCode) -> None:
    response = httpx.Response(status, json={"detail": "because"}, headers={"Retry-After": "7"})
    error = response_error(response, "doing it")
    assert error.code is code
    assert error.message.startswith(f"doing it: HTTP {status}: because")
