"""A controllable clock for the bot's `Clock` dependency."""

from __future__ import annotations

import asyncio


class VirtualClock:
    """Backoff sleeps advance virtual time instantly; `advance` moves the wall clock for expiry."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.wall = start
        self.mono = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)
