"""`later <duration>` in the console: skip ahead in time to see what waiting would bring.

Reminders come 4 hours after filing (CHIME_REMIND_AFTER) and requests expire after a day, so a
console user could never see either. The console's bot runs on `SkippingClock`: real time plus
however far the user has skipped. Only the wall clock (`now`) moves, which is what filing times,
reminders and expiry read; monotonic time (timeouts, caches, retry budgets) stays real, so
skipping never makes a Chime or Slack call look late. After a skip the console runs one sweep
(`Runtime.sweep_once`), as the bot's own periodic sweep would on its next turn.
"""

from __future__ import annotations

import asyncio
import time

from bot.durations import NotADuration, parse_duration

MAX_SKIP = 30 * 86_400.0  # a month: more than any TTL or reminder delay a setting would take


class SkippingClock:
    """Real time, with the wall clock moved ahead by every `skip` so far."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.time() + self.skipped

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def parse_skip(text: str) -> float | str:
    """Seconds to skip for a duration (bot/durations.py: `4h`, `30m`, `1d`, `1h30m`), more than
    nothing and at most MAX_SKIP; otherwise what is wrong, in words."""
    try:
        seconds = float(parse_duration(text))
    except NotADuration:
        return "say how long, like 4h, 30m, 1d or 1h30m"
    if seconds <= 0:
        return "skip ahead by more than nothing"
    if seconds > MAX_SKIP:
        return "skip at most 30 days at a time"
    return seconds
