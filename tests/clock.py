"""A controllable clock for the bot's `Clock` dependency."""

from __future__ import annotations

import asyncio
import time

# Settings for a bot on a shared (DynamoDB) store whose VirtualClock is the reference: moto
# answers with the real time, which virtual time is not, so the skew check (bot/aws_clock.py)
# is off for it.
TRUST_VIRTUAL_TIME: dict[str, object] = {"chime_max_clock_skew": 0}


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


class ShiftedClock:
    """The real clock moved by `offset` seconds: one replica's clock off by that much, for
    tests where real servers (moto, the emulator) answer with the real time in their `Date`
    header. Its sleeps are real, so its offset from them stays what was set."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
