"""The bot's one notion of time, passed in as a dependency so tests and the console can move it.

Monotonic time measures budgets, cool-downs and cache lifetimes; wall-clock time stamps what is
stored and shown (a request's deadline, a reminder's due time). Approvals, policy, reminders,
Home and the Chime directory all take a `Clock`; tests pass a virtual one whose sleeps advance
it at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> float:
        """Wall-clock epoch seconds, for timestamps that are stored and shown."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
