"""Waiting for eventual consistency in tests: retry an assertion until it holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed


async def eventually(check: Callable[[], Awaitable[None]], *, within: float = 60) -> None:
    """Run ``check`` until it stops raising AssertionError; after ``within`` s, re-raise it."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_fixed(0.25),
        retry=retry_if_exception_type(AssertionError),
        reraise=True,
    ):
        with attempt:
            await check()
