"""Pure parts of the Downloader: ranges, balancing order, settings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.downloader.api.downloads import ticket_json
from services.downloader.balancing import Balancer
from services.downloader.config import Settings
from services.downloader.errors import BadRange, RangeNotSatisfiable
from services.downloader.ranges import ByteRange, requested_range
from services.downloader.schemas import DownloadTicket
from services.downloader.service import Ticket

pytestmark = pytest.mark.unit

DAY = date(2030, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ByteRange(0, 100, False)),
        ({"offset": 0}, ByteRange(0, 100, False)),
        ({"offset": 10}, ByteRange(10, 90, True)),
        ({"offset": 10, "length": 5}, ByteRange(10, 5, True)),
        ({"length": 500}, ByteRange(0, 100, False)),
        ({"range_header": "bytes=0-9"}, ByteRange(0, 10, True)),
        ({"range_header": "bytes=90-500"}, ByteRange(90, 10, True)),
        ({"range_header": "bytes=-10"}, ByteRange(90, 10, True)),
        ({"range_header": "bytes=-1000"}, ByteRange(0, 100, False)),
        ({"range_header": " Bytes = 5 - "}, ByteRange(5, 95, True)),
    ],
)
def test_requested_range(kwargs: dict, expected: ByteRange) -> None:
    args = {"offset": None, "length": None, "range_header": None} | kwargs
    assert requested_range(100, **args) == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"offset": 100}, RangeNotSatisfiable),
        ({"offset": -1}, BadRange),
        ({"length": 0}, BadRange),
        ({"range_header": "bytes=100-"}, RangeNotSatisfiable),
        ({"range_header": "bytes=-0"}, RangeNotSatisfiable),
        ({"range_header": "bytes=-"}, BadRange),
        ({"range_header": "bytes=5-1"}, BadRange),
        ({"range_header": "bytes=0-1, 3-4"}, BadRange),
        ({"range_header": "lines=0-1"}, BadRange),
        ({"range_header": "bytes=0-1", "offset": 0}, BadRange),
    ],
)
def test_bad_ranges(kwargs: dict, error: type[Exception]) -> None:
    args = {"offset": None, "length": None, "range_header": None} | kwargs
    with pytest.raises(error):
        requested_range(100, **args)


def test_range_header_of_a_partial_read() -> None:
    assert ByteRange(10, 5, True).header == "bytes=10-14"
    assert ByteRange(0, 100, False).header is None


def test_equal_sizes_rotate_sequentially() -> None:
    balancer = Balancer()
    candidates = [("c", 10), ("a", 10), ("b", 10)]
    picks = []
    for _ in range(7):
        first = balancer.order(candidates, DAY)[0]
        balancer.note(first, 1, DAY)
        picks.append(first)
    assert picks == ["a", "b", "c", "a", "b", "c", "a"]


def test_unequal_budgets_are_served_in_proportion() -> None:
    balancer = Balancer()
    candidates = [("big", 300), ("small", 100)]
    served = {"big": 0, "small": 0}
    for _ in range(400):
        first = balancer.order(candidates, DAY)[0]
        balancer.note(first, 1, DAY)
        served[first] += 1
    assert served == {"big": 300, "small": 100}


def test_small_byte_differences_still_rotate_and_large_ones_even_out() -> None:
    budget = 100 * 10**9
    candidates = [("a", budget), ("b", budget), ("c", budget)]
    balancer = Balancer()
    balancer.note("a", 60 * 10**6, DAY)  # one 60 MB file: under a 100 MB step of the budget
    picks = []
    for _ in range(6):
        first = balancer.order(candidates, DAY)[0]
        balancer.note(first, 1000, DAY)
        picks.append(first)
    assert picks == ["b", "c", "a", "b", "c", "a"]

    balancer.note("a", 200 * 10**6, DAY)  # now a is two steps ahead: the others catch up first
    later = []
    for _ in range(10):
        first = balancer.order(candidates, DAY)[0]
        balancer.note(first, 1000, DAY)
        later.append(first)
    assert set(later) == {"b", "c"}


def test_a_new_day_starts_from_the_baseline() -> None:
    balancer = Balancer()
    balancer.note("a", 50, DAY)
    balancer.start_day(date(2030, 1, 2), {"b": 10})
    assert balancer.order([("a", 100), ("b", 100)], date(2030, 1, 2))[0] == "a"


def test_default_secrets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="refusing to start"):
        Settings(admin_token="changeme", internal_token="x" * 20, state_dir=tmp_path)
    with pytest.raises(ValidationError, match="refusing to start"):
        Settings(admin_token="x" * 20, internal_token="", state_dir=tmp_path)
    dev = Settings(dev_mode=True, state_dir=tmp_path)
    assert dev.admin_token
    assert dev.internal_token


def test_database_urls_get_async_drivers(tmp_path: Path) -> None:
    tokens = {"admin_token": "a" * 20, "internal_token": "i" * 20, "state_dir": tmp_path}
    assert Settings(**tokens).sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'downloader.db'}"
    pg = Settings(database_url="postgresql://u:p@h/db", **tokens)
    assert pg.sqlalchemy_url == "postgresql+asyncpg://u:p@h/db"
    with pytest.raises(ValidationError):
        Settings(database_url="mysql://h/db", **tokens)


@pytest.mark.parametrize(
    ("url", "account_id", "range_header"),
    [
        ("http://drive.test/files/abc?alt=media", "acct-1", None),
        ('http://drive.test/files/"quoted"\\path?x=é', "a\\b", "bytes=0-99"),
    ],
)
def test_ticket_json_is_what_the_response_model_writes(
    url: str, account_id: str, range_header: str | None
) -> None:
    ends = datetime(2030, 1, 2, tzinfo=UTC)
    for _ in range(2):  # the second one comes from the cached parts
        ticket = Ticket(
            id=uuid.uuid4(),
            url=url,
            file_id="file.1",
            account_id=account_id,
            offset=0,
            length=100,
            charged_bytes=100,
            range=range_header,
            day=DAY,
            expires_at=ends,
        )
        expected = DownloadTicket.model_validate(
            {field: getattr(ticket, field) for field in DownloadTicket.model_fields}
        )
        assert ticket_json(ticket) == expected.model_dump_json().encode()
