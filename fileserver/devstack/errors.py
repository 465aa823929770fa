"""The devstack's one error type: what failed and what the user can do about it."""

from __future__ import annotations


class DevstackError(RuntimeError):
    """A devstack step failed; the message says what failed and how to fix it."""

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(what if fix is None else f"{what}\n  fix: {fix}")
        self.what = what
        self.fix = fix
