"""Placement: which accounts should hold a file — the hook the operator uses to change it.

The specification's rule (item 9) is "every enabled account", the default here. Large catalogs
cannot afford it (seed 000), so a file may carry ``desired_replicas``: then the policy keeps
the accounts that already hold (or are making) a copy and adds those with the most storage left
until the count is reached; every account's storage limit is respected by the plan. The count
itself follows demand when the operator sets it (docs/operator.md, demand-driven placement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from services.shared.events import ReplicaState
from services.uploader.models import Account, StoredFile


class PlacementPolicy(Protocol):
    """Chooses the accounts a file should be on, among those able to take it."""

    def targets(
        self, file: StoredFile, candidates: Sequence[Account], stored: Mapping[str, int]
    ) -> list[str]:
        """Account ids, in the order replicas should be made (the first gets the upload);
        ``stored`` is the bytes each account holds (missing: none)."""
        ...


class DefaultPlacement:
    """Every candidate account, or ``desired_replicas`` of them: existing copies first, then
    the accounts with the most storage left (accounts without a limit first, in pool order),
    so that a catalog larger than one account spreads instead of filling the first ones."""

    def targets(
        self, file: StoredFile, candidates: Sequence[Account], stored: Mapping[str, int]
    ) -> list[str]:
        ids = [account.id for account in candidates]
        if file.desired_replicas is None:
            return ids
        rank = {ReplicaState.READY: 0, ReplicaState.PENDING: 1}
        position = {account_id: n for n, account_id in enumerate(ids)}
        free = {
            a.id: (math.inf if a.storage_room is None else a.storage_room - stored.get(a.id, 0))
            for a in candidates
        }

        def order(account_id: str) -> tuple[int, float, int]:
            replica = file.replicas.get(account_id)
            held = rank.get(replica.state, 2) if replica is not None else 2
            return held, -free[account_id], position[account_id]

        return sorted(ids, key=order)[: file.desired_replicas]
