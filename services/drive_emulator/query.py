"""The ``q`` parameter of ``files.list``: the subset of Drive's query language clients use.

Clauses joined by ``and``: ``trashed = false``, ``name = '…'``, ``name contains '…'``,
``mimeType = '…'``, ``'<id>' in parents``, ``'me' in owners``. Anything else is refused with
Drive's ``Invalid Value`` rather than silently matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from services.drive_emulator import errors
from services.drive_emulator.store import FileRecord

Predicate = Callable[[FileRecord], bool]

_STRING = r"'((?:[^'\\]|\\.)*)'"
_COMPARE = re.compile(rf"^(name|mimeType)\s*(=|!=|contains)\s*{_STRING}$")
_TRASHED = re.compile(r"^trashed\s*=\s*(true|false)$")
_IN = re.compile(rf"^{_STRING}\s+in\s+(parents|owners)$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _clause(text: str, root_id: str) -> Predicate:
    if match := _TRASHED.match(text):
        trashed = match.group(1) == "true"
        return lambda record: not trashed  # nothing is ever in the trash here
    if match := _COMPARE.match(text):
        field, op, raw = match.groups()
        value = _unescape(raw)
        attribute = "name" if field == "name" else "mime_type"
        if op == "contains":
            return lambda record: value in getattr(record, attribute)
        equal = op == "="
        return lambda record: (getattr(record, attribute) == value) is equal
    if match := _IN.match(text):
        value, collection = _unescape(match.group(1)), match.group(2)
        if collection == "owners":
            return lambda record: value == "me"
        parent = root_id if value == "root" else value
        return lambda record: parent in record.parents
    raise errors.bad_request("Invalid Value", location="q")


def parse(q: str | None, *, root_id: str) -> Predicate:
    """A predicate over the caller's files (``root_id`` is what ``'root'`` means for them)."""
    if not q or not q.strip():
        return lambda record: True
    clauses = [_clause(part.strip(), root_id) for part in _AND.split(q.strip())]
    return lambda record: all(clause(record) for clause in clauses)
