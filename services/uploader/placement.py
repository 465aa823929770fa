"""Placement: which accounts should hold a file — the hook the operator uses to change it.

The specification's rule (item 9) is "every enabled account", the default here. Large catalogs
cannot afford it (seed 000), so a file may carry ``desired_replicas``: then the policy keeps
the accounts that already hold (or are making) a copy and adds others in the pool's order until
the count is reached. Another policy (e.g. by demand, seed 002) only has to implement
:class:`PlacementPolicy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.shared.events import ReplicaState
from services.uploader.models import Account, StoredFile


class PlacementPolicy(Protocol):
    """Chooses the accounts a file should be on, among those able to take it."""

    def targets(self, file: StoredFile, candidates: Sequence[Account]) -> list[str]:
        """Account ids, in the order replicas should be made (the first gets the upload)."""
        ...


class DefaultPlacement:
    """Every candidate account, or ``desired_replicas`` of them, existing copies first."""

    def targets(self, file: StoredFile, candidates: Sequence[Account]) -> list[str]:
        ids = [account.id for account in candidates]
        if file.desired_replicas is None:
            return ids
        rank = {ReplicaState.READY: 0, ReplicaState.PENDING: 1}

        def order(account_id: str) -> tuple[int, int]:
            replica = file.replicas.get(account_id)
            held = rank.get(replica.state, 2) if replica is not None else 2
            return held, ids.index(account_id)

        return sorted(ids, key=order)[: file.desired_replicas]
