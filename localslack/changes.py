"""A change counter that waiters can block on: tests wait for a condition, the page for news."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Changes:
    """Counts state changes; `notify()` after each one wakes everybody waiting."""

    def __init__(self) -> None:
        self.version = 0
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self._condition:
            self.version += 1
            self._condition.notify_all()

    async def wait_for(self, predicate: Callable[[], T], seconds: float) -> T:
        """Wait until `predicate()` is truthy (re-checked at every change); returns its value."""
        async with asyncio.timeout(seconds), self._condition:
            await self._condition.wait_for(predicate)
        return predicate()

    async def wait_past(self, version: int, seconds: float) -> bool:
        """Wait until the version moves past `version`; False if `seconds` pass first."""
        try:
            await self.wait_for(lambda: self.version != version, seconds)
        except TimeoutError:
            return False
        return True
