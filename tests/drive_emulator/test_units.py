"""Pure parts of the emulator: the fields grammar, the list query subset, Range parsing."""

from __future__ import annotations

import pytest

from services.drive_emulator import fields, query
from services.drive_emulator.errors import DriveApiError
from services.drive_emulator.store import FileRecord
from services.drive_emulator.streaming import parse_range

pytestmark = pytest.mark.unit

RECORD = FileRecord(
    id="f1",
    account_id="a",
    name="it's.txt",
    mime_type="text/plain",
    size=3,
    md5="x",
    parents=["0Aa"],
    anyone_reader=False,
    created_at="t",
    modified_at="t",
)


def test_fields_select_nested_lists_and_paths() -> None:
    value = {"a": 1, "b": {"c": 2, "d": 3}, "files": [{"id": 1, "x": 2}, {"id": 3}]}
    assert fields.select(value, fields.parse("a,files(id)")) == {
        "a": 1,
        "files": [{"id": 1}, {"id": 3}],
    }
    assert fields.select(value, fields.parse("b/c")) == {"b": {"c": 2}}
    assert fields.select(value, fields.parse("*")) == value
    with pytest.raises(DriveApiError):
        fields.parse("files(id")


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ("trashed = false", True),
        ("trashed = true", False),
        (r"name = 'it\'s.txt'", True),
        ("name contains 'it'", True),
        ("name != 'it'", True),
        ("mimeType = 'text/plain' and 'root' in parents", True),
        ("'me' in owners and '0Ab' in parents", False),
    ],
)
def test_query_subset(q: str, matches: bool) -> None:
    assert query.parse(q, root_id="0Aa")(RECORD) is matches


def test_unsupported_query_is_refused() -> None:
    with pytest.raises(DriveApiError) as caught:
        query.parse("fullText contains 'x'", root_id="0Aa")
    assert caught.value.location == "q"


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=x-y", None),
    ],
)
def test_range_header(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10", "bytes=-0"])
def test_unsatisfiable_range(header: str) -> None:
    with pytest.raises(DriveApiError) as caught:
        parse_range(header, 100)
    assert caught.value.status == 416
    assert caught.value.headers == {"Content-Range": "bytes */100"}
