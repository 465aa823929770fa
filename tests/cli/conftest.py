"""One private local system for the CLI tests, started in-process and brought down (and
checked to be gone) at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fileserver.devstack.servers import port_in_use
from fileserver.system.accounts import ensure_demo_accounts
from tests.utils.local_system import PrivateSystem

ACCOUNTS = 3


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSystem]:
    private = PrivateSystem.allocate(tmp_path_factory.mktemp("cli-system") / "state")
    local = private.local_system()
    try:
        local.up()
        ensure_demo_accounts(local, ACCOUNTS, local.settings.demo_budget_bytes)
        yield private
    finally:
        local.down()
        assert [p for p in private.all_ports() if port_in_use(p)] == []


@pytest.fixture(scope="session")
def cli_env(system: PrivateSystem) -> dict[str, str]:
    """The environment a script would set: URLs and tokens of the private system."""
    local = system.local_system()
    return {
        "FILESERVER_URL_UPLOADER": local.service("uploader").url,
        "FILESERVER_URL_DOWNLOADER": local.service("downloader").url,
        "FILESERVER_TOKEN_UPLOADER": local.secrets.uploader_admin_token,
        "FILESERVER_TOKEN_DOWNLOADER": local.secrets.downloader_admin_token,
        "XDG_CONFIG_HOME": str(system.state_dir / "no-config"),
    }
