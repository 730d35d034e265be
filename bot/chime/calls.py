"""Every Chime call, made the same way: bounded, timed, retried by error class within a deadline.

Retries are ours, not botocore's (the client makes one attempt: `bot.chime.client`). A call is
retried by what its failure means (`bot.chime.errors`), with the bot's one backoff
(`bot.backoff`, full jitter) inside one deadline: a short one for what a user waits on
(lookups, filing), a longer one for approvals. In-flight calls are bounded by a semaphore sized
like the connection pool, and every call goes through one circuit breaker
(`bot.chime.breaker`), so an outage is answered at once.

A call whose effect is unknown (5xx, timeout, dropped connection) is repeated only when it is
idempotent; CreateUser's is settled by `bot.chime.create_once`, which looks first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from bot.backoff import backoff
from bot.chime.breaker import BreakerState, CircuitBreaker
from bot.chime.errors import classify, is_outage
from bot.clock import Clock, RealClock
from bot.errors import CREDENTIALS_FIX, ChimeCircuitOpen, ChimeCredentials, ChimeUnavailable

log = logging.getLogger("chime_bot.chime")
T = TypeVar("T")

# What a user waits on (a lookup, filing a request) must be answered within 8 s even in an
# outage: 6 s of retries leave room for the last attempt and the reply. An approval runs
# behind a "working" card and may wait longer for Chime (CHIME_RETRY_BUDGET).
INTERACTIVE_BUDGET = 6.0
# When set, the moment a user started waiting: every interactive call inside `one_budget`
# shares one deadline, so a lookup of three calls cannot take three budgets.
_SHARED_START: ContextVar[float | None] = ContextVar("chime_shared_start", default=None)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    budget: float = 20.0  # seconds from the first attempt; no new attempt starts after it
    base: float = 0.25
    cap: float = 4.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        # Full jitter: spreads a burst of throttled callers apart.
        return backoff(attempt, base=self.base, cap=self.cap, rng=rng)


CallObserver = Callable[[str, str], None]  # (operation, outcome code or "ok")


@dataclass
class Calls:
    limit: asyncio.Semaphore
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # approvals: CreateUser, InviteUsers
    # What users wait on: lookups and filing (see INTERACTIVE_BUDGET).
    interactive: RetryPolicy = field(default_factory=lambda: RetryPolicy(INTERACTIVE_BUDGET))
    clock: Clock = field(default_factory=RealClock)
    rng: random.Random = field(default_factory=random.Random)
    breaker: CircuitBreaker | None = None
    observe: CallObserver | None = None

    @contextmanager
    def one_budget(self) -> Iterator[None]:
        """Interactive calls made inside share one budget, counted from now: a user waits for
        all of them together."""
        token = (
            None if _SHARED_START.get() is not None else _SHARED_START.set(self.clock.monotonic())
        )
        try:
            yield
        finally:
            if token is not None:
                _SHARED_START.reset(token)

    async def run(
        self,
        operation: str,
        work: Callable[[], Awaitable[T]],
        policy: RetryPolicy,
        *,
        idempotent: bool = True,
        started: float | None = None,
    ) -> T:
        """Run `work` until it succeeds or fails for good, within `policy.budget` of `started`.

        Throttling and connections never made are retried for every operation; other outage
        failures only for `idempotent` ones (the rest is the caller's to settle).
        """
        if started is None and policy is self.interactive:
            started = _SHARED_START.get()
        started = self.clock.monotonic() if started is None else started
        attempt = 0
        while True:
            breaker = self.breaker
            if breaker is not None and not breaker.admit():
                self._observed(operation, "CircuitOpen")
                raise ChimeCircuitOpen(operation, breaker.retry_in())
            remaining = policy.budget - (self.clock.monotonic() - started)
            try:
                async with self.limit:
                    # A read that outlives the deadline is cut short; a write is left to its
                    # socket timeout, because cutting it short would only make its effect unknown.
                    async with asyncio.timeout(max(remaining, 0.5) if idempotent else None):
                        result = await work()
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.abandoned()
                raise
            except (TimeoutError, ClientError, BotoCoreError, ResponseParserError) as exc:
                error = classify(operation, exc)
                self._observed(operation, error.code or type(exc).__name__)
                if breaker is not None:
                    breaker.failed() if is_outage(error) else breaker.answered()
                if isinstance(error, ChimeCredentials):
                    log.error(
                        "AWS credentials for Chime are missing, invalid or expired (%s on %s). %s",
                        error.code,
                        operation,
                        CREDENTIALS_FIX,
                    )
                if not isinstance(error, ChimeUnavailable):
                    raise error from exc
                if error.effect_unknown and not idempotent:
                    raise error from exc
                delay = policy.backoff(attempt, self.rng)
                elapsed = self.clock.monotonic() - started
                given_up = breaker is not None and breaker.state == BreakerState.OPEN
                if given_up or elapsed + delay >= policy.budget:
                    log.warning(
                        "giving up on %s after %d attempts in %.1fs: %s",
                        operation,
                        attempt + 1,
                        elapsed,
                        error.code,
                    )
                    raise error from exc
                attempt += 1
                log.info(
                    "retrying %s after %s (attempt %d, waiting %.2fs)",
                    operation,
                    error.code,
                    attempt + 1,
                    delay,
                )
                await self.clock.sleep(delay)
            else:
                if breaker is not None:
                    breaker.answered()
                self._observed(operation, "ok")
                return result

    def _observed(self, operation: str, outcome: str) -> None:
        if self.observe is not None:
            self.observe(operation, outcome)
