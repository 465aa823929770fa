"""Which account serves the next download: round robin, weighted by bytes (item 11).

Plain round robin counts requests, so with files of mixed sizes the bytes drift apart (one
account gets the 4 GB file, the next a 1 MB one). This balancer keeps the rotation but orders
the candidates by the share of its daily budget each account has served today in this process:
with equal sizes and budgets it is exactly sequential round robin; with mixed sizes each
account's bytes stay within one file size of the others; with unequal budgets each account
serves in proportion to its budget, so that all of them run dry at about the same time.
Shares are compared in steps of :data:`SHARE_STEP` of the budget (0.1 %: 100 MB of a 100 GB
day): accounts within the same step count as tied, and ties go to the first account after the
one used last, which is what makes it sequential. Without the step, one large file served by an
account would send every small request elsewhere until the bytes evened out, and clients would
see no rotation at all for a while.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

SHARE_STEP = 1 / 1000
"""Granularity of the byte balance, as a fraction of each account's daily budget."""


class Balancer:
    """Per-process rotation state and bytes served today per account."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.served: dict[str, int] = {}
        self.last: str = ""

    def start_day(self, day: date, served: dict[str, int]) -> None:
        """Begin ``day`` with the bytes already served (by every process) as the baseline."""
        self.day = day
        self.served = dict(served)

    def order(self, candidates: Sequence[tuple[str, int]], day: date) -> list[str]:
        """Candidate account ids (``(id, daily budget)``, budget > 0) in the order to try."""
        if day != self.day:
            self.start_day(day, {})
        served, last = self.served, self.last
        # By share step, then rotation: accounts after the last one used first (``aid <= last``
        # is False for them), in id order, then the rest.
        keyed = sorted(
            [
                (int(served.get(aid, 0) / budget / SHARE_STEP), aid <= last, aid)
                for aid, budget in candidates
            ]
        )
        return [aid for _, _, aid in keyed]

    def note(self, account_id: str, nbytes: int, day: date) -> None:
        """Record that ``account_id`` served ``nbytes`` on ``day``."""
        if day != self.day:
            self.start_day(day, {})
        self.served[account_id] = self.served.get(account_id, 0) + nbytes
        self.last = account_id
