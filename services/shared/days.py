"""Budget days: Drive budgets reset once a day, at a UTC boundary the operator chooses.

The Downloader charges bytes to the budget day of the moment it issues a URL, stamps that day on
the stats event, and Stats aggregates by the stamped day; so an event issued at 23:59:59.9 and
processed after the boundary still counts for the day it was charged to. Keeping the arithmetic
here means both services (and the tests) agree on what "today" means.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the services' default clock)."""
    return datetime.now(UTC)


def _offset(rollover: time) -> timedelta:
    return timedelta(hours=rollover.hour, minutes=rollover.minute, seconds=rollover.second)


def budget_day(at: datetime, rollover: time) -> date:
    """The budget day ``at`` belongs to, when days start at ``rollover`` (UTC)."""
    if at.tzinfo is None:
        raise ValueError("budget_day needs a timezone-aware datetime")
    return (at.astimezone(UTC) - _offset(rollover)).date()


def day_start(day: date, rollover: time) -> datetime:
    """The instant (UTC) at which budget day ``day`` begins."""
    return datetime.combine(day, time(), tzinfo=UTC) + _offset(rollover)


def next_rollover(at: datetime, rollover: time) -> datetime:
    """The first day boundary strictly after ``at``."""
    return day_start(budget_day(at, rollover) + timedelta(days=1), rollover)
