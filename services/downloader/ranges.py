"""Which bytes a download request asks for, from ``offset``/``length`` or an HTTP ``Range``.

The charge against a budget is the bytes actually requested (seed 002's ``read(K, offset)``),
so a client resuming at 3 GB of a 4 GB file costs 1 GB. Only single byte ranges are accepted:
a multi-range request would let the client fetch more than it was charged for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.downloader.errors import BadRange, RangeNotSatisfiable

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``length`` bytes from ``offset``; ``partial`` when it is not the whole file."""

    offset: int
    length: int
    partial: bool

    @property
    def header(self) -> str | None:
        """The ``Range`` header to send to Drive, or ``None`` for the whole file."""
        if not self.partial:
            return None
        return f"bytes={self.offset}-{self.offset + self.length - 1}"


def requested_range(
    size: int, *, offset: int | None, length: int | None, range_header: str | None
) -> ByteRange:
    """The bytes of a ``size``-byte file a request asks for (validated)."""
    if range_header is not None and (offset is not None or length is not None):
        raise BadRange("give either offset/length or a Range header, not both")
    if range_header is not None:
        return _from_header(size, range_header)
    if offset is None and length is None:
        return ByteRange(0, size, False)
    start = offset or 0
    if start < 0 or (length is not None and length <= 0):
        raise BadRange("offset must be ≥ 0 and length ≥ 1")
    if start >= size:
        raise RangeNotSatisfiable(f"offset {start} is beyond the end of the file ({size} bytes)")
    count = size - start if length is None else min(length, size - start)
    return ByteRange(start, count, count != size)


def _from_header(size: int, header: str) -> ByteRange:
    if "," in header:
        raise BadRange("only a single byte range is supported")
    match = _RANGE.match(header)
    if match is None or match.group(1) == match.group(2) == "":
        raise BadRange(f"malformed Range header {header!r}: expected 'bytes=start-end'")
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last N bytes
        count = min(int(last), size)
        if count == 0:
            raise RangeNotSatisfiable("a suffix range of 0 bytes selects nothing")
        return ByteRange(size - count, count, count != size)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(f"range starts beyond the end of the file ({size} bytes)")
    end = size - 1 if last == "" else int(last)
    if end < start:
        raise BadRange(f"malformed Range header {header!r}: end before start")
    count = min(end, size - 1) - start + 1
    return ByteRange(start, count, count != size)
