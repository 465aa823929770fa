"""Which files an incremental catalog sync looks up one by one.

The Uploader's change feed cannot show a file deleted *and purged* between two syncs: nothing
of it is left to change. Each incremental sync therefore checks a few files by id (the one
query FerretDB answers from an index), in a rotation through the catalog, so such a file loses
its FileReplica within one rotation instead of at the next full listing.
"""

from __future__ import annotations

from collections.abc import Iterable

VERIFY_PER_SYNC = 20
"""Files an incremental sync looks up by id."""


def verification_turn(
    ids: Iterable[str], after: str, per_sync: int = VERIFY_PER_SYNC
) -> tuple[list[str], str]:
    """The next ``per_sync`` of ``ids`` after ``after`` (wrapping round), and the new cursor."""
    ordered = sorted(ids)
    if not ordered:
        return [], after
    start = next((i for i, file_id in enumerate(ordered) if file_id > after), 0)
    turn = (ordered[start:] + ordered[:start])[:per_sync]
    return turn, turn[-1]
