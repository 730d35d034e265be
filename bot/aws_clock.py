"""How far this replica's clock is from AWS's, measured from the `Date` header of AWS's answers.

Replicas on one DynamoDB table judge deadlines by their own clocks (a claim is refused once the
deadline has passed, the sweep expires what has), so a replica whose clock is off moves every
deadline it judges. Each answer from AWS carries a `Date` header (RFC 7231 section 7.1.1.2,
IMF-fixdate, whole seconds; botocore keeps it in ResponseMetadata.HTTPHeaders["date"]): the
server's clock when it answered. Watching the clients the bot builds (DynamoDB and Chime) gives a
measure on every call, so the sweep's own reads measure it periodically and no call is added.

One answer bounds the offset (ours minus AWS's) to an interval: the server wrote `D` at some
instant in [D, D + 1) of its clock, which our clock puts between sending (t0) and receiving
(t1), so the offset lies in (t0 - D - 1, t1 - D]. The narrowest of the last few intervals is
kept: a slow answer widens its interval and is outweighed, and a clock that steps is seen within
a few calls.

The judgement errs towards refusing: the offset counts as within the bound only when the whole
interval is, so with the default bound of 5 s an answer's 1 s resolution and a round trip up to
4 s still pass an accurate clock. It matters only where replicas share a table: with SQLite all
replicas share one machine's clock and nothing is compared across machines, so the offset is
reported but never refuses anything.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from bot.clock import Clock

DATE_RESOLUTION = 1.0  # seconds: the Date header has no fraction
KEPT = 8  # answers remembered; the narrowest interval among them is the estimate
_SENT = "chime_bot_clock_sent"  # where before-call leaves t0 for after-call (botocore's context)


@dataclass(frozen=True, slots=True)
class Offset:
    """This clock minus AWS's, in seconds, known to lie in (low, high]: positive is ahead."""

    low: float
    high: float
    source: str  # the service whose answer measured it

    @property
    def estimate(self) -> float:
        return (self.low + self.high) / 2

    @property
    def error(self) -> float:
        return (self.high - self.low) / 2

    @property
    def worst(self) -> float:
        """The largest distance from AWS's clock this answer allows."""
        return max(abs(self.low), abs(self.high))

    def describe(self) -> str:
        way = "ahead of" if self.estimate >= 0 else "behind"
        return f"{abs(self.estimate):.1f}s {way} AWS (±{self.error:.1f}s, from {self.source})"


def offset_from(date: str, *, sent: float, received: float, source: str) -> Offset | None:
    """The offset one answer shows, or None if its Date header cannot be read."""
    try:
        server = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return Offset(sent - server - DATE_RESOLUTION, received - server, source)


class AwsClock:
    """The offset of `clock` from AWS's clock, and whether deadlines may be judged by it.

    `bound`: the largest offset tolerated (CHIME_MAX_CLOCK_SKEW; 0: none is judged).
    `shared`: replicas on other machines judge the same deadlines (a DynamoDB store); only then
    does the offset refuse anything or widen a deadline comparison (`margin`).
    """

    def __init__(self, clock: Clock, *, bound: float, shared: bool) -> None:
        self.clock = clock
        self.bound = bound
        self.judges = shared and bound > 0
        self._why_not = "CHIME_MAX_CLOCK_SKEW is 0" if shared else "one machine's store"
        self._answers: deque[Offset] = deque(maxlen=KEPT)
        # DynamoDB's calls run on executor threads, Chime's on the event loop.
        self._lock = threading.Lock()

    # ---- measuring -------------------------------------------------------------------------

    def watch(self, events: Any, source: str) -> None:
        """Measure on every call of the botocore (or aiobotocore) client whose `meta.events`
        is `events`; `source` names the service in reports."""

        def sent(context: dict[str, Any], **_: Any) -> None:
            context[_SENT] = self.clock.now()
            # None: a before-call handler that answers would stand in for the call itself.

        def answered(parsed: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> None:
            received = self.clock.now()
            headers = parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            date, started = headers.get("date"), context.get(_SENT)
            if isinstance(date, str) and isinstance(started, float):
                self.observe(date, sent=started, received=received, source=source)

        events.register("before-call", sent)
        events.register("after-call", answered)

    def observe(self, date: str, *, sent: float, received: float, source: str) -> None:
        offset = offset_from(date, sent=sent, received=received, source=source)
        if offset is not None:
            with self._lock:
                self._answers.append(offset)

    @property
    def offset(self) -> Offset | None:
        """The best estimate from the last answers; None before any answer was measured."""
        with self._lock:
            answers = list(self._answers)
        if not answers:
            return None
        # min keeps the first of equals: iterate newest first so ties go to the latest.
        return min(reversed(answers), key=lambda o: o.high - o.low)

    # ---- judging ---------------------------------------------------------------------------

    @property
    def margin(self) -> float:
        """How far a deadline comparison must allow for the others' clocks (0: none share)."""
        return self.bound if self.judges else 0.0

    def refusal(self) -> str | None:
        """Why deadlines must not be judged by this clock now, in an operator's words; None
        when they may. Unmeasured on a shared table refuses too: the table always answers with
        a Date header, so no measure means none can be trusted yet."""
        if not self.judges:
            return None
        offset = self.offset
        if offset is None:
            return "this replica's clock has not been compared with AWS's yet"
        if offset.worst > self.bound:
            return (
                f"this replica's clock is {offset.describe()}, more than the "
                f"{self.bound:g}s allowed (CHIME_MAX_CLOCK_SKEW)"
            )
        return None

    def state(self) -> str:
        """One line for /readyz and `check`."""
        offset = self.offset
        if offset is None:
            return "not measured yet (no answer from AWS)"
        judged = f"bound {self.bound:g}s" if self.judges else f"not judged: {self._why_not}"
        return f"{offset.describe()}; {judged}"
