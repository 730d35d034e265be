"""A circuit breaker around Amazon Chime: in an outage, answer at once instead of retrying.

Closed: calls go through; a run of `threshold` outage failures in a row (5xx, timeouts, dropped
connections) opens it. Open: every call is refused at once, without touching the network, for
`cool_down` seconds. Half-open: the first call after the cool-down is the one probe; others are
still refused while it runs. A probe that gets any answer from Chime closes the breaker; an
outage failure opens it again for another cool-down.

Throttling and client errors (4xx) are answers: Chime is up, so they end a run of failures.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Protocol


class Monotonic(Protocol):
    def monotonic(self) -> float: ...


class BreakerState(IntEnum):
    """Numbered for the /metrics gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


# Five failed attempts in a row is one interactive lookup's worth of retries against a dead
# service; 15 s of cool-down keeps an outage quiet, and bounds how long after Chime recovers a
# lookup can still be refused (one cool-down, well inside the 30 s the bot promises).
DEFAULT_THRESHOLD = 5
DEFAULT_COOL_DOWN = 15.0


class CircuitBreaker:
    def __init__(
        self,
        clock: Monotonic,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        cool_down: float = DEFAULT_COOL_DOWN,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if threshold < 1 or cool_down < 0:
            raise ValueError("threshold must be >= 1 and cool_down >= 0")
        self._clock = clock
        self.threshold = threshold
        self.cool_down = cool_down
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        return self._state

    def retry_in(self) -> float:
        """Seconds until the next probe may go (0 when not open)."""
        if self._state != BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cool_down - self._clock.monotonic())

    def admit(self) -> bool:
        """May a call go to Chime now? A True in half-open state makes the caller the probe."""
        if self._state == BreakerState.CLOSED:
            return True
        if self._state == BreakerState.OPEN:
            if self._clock.monotonic() < self._opened_at + self.cool_down:
                return False
            self._set(BreakerState.HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def answered(self) -> None:
        """Chime answered (success, or an error that is not an outage)."""
        self._failures = 0
        self._probing = False
        self._set(BreakerState.CLOSED)

    def failed(self) -> None:
        """An outage failure: a 5xx, a timeout, a dropped or refused connection."""
        self._probing = False
        self._failures += 1
        if self._state == BreakerState.OPEN:
            return  # a call that was in flight when it opened: the cool-down is not extended
        if self._state == BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._opened_at = self._clock.monotonic()
            self._set(BreakerState.OPEN)

    def abandoned(self) -> None:
        """The call ended without a verdict (cancelled): let another caller probe."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)
