"""How long to wait before trying again: one formula for everything the bot retries.

Capped exponential growth (`base * 2**attempt`, at most `cap`) with jitter, so that callers
failing together (a burst of throttled lookups, replicas restarted at once) do not retry in
step. `floor` is the share of the delay kept for certain: 0 is "full jitter" (AWS Architecture
Blog, "Exponential Backoff And Jitter"), the widest spread, for many callers sharing one limit;
0.5 keeps at least half, for a lone caller that retries forever and must not hammer what it
waits on.

In the kernel because Chime, Slack and the store retry and may not import each other.
"""

from __future__ import annotations

import random

# 2**64 times any base outgrows any cap; an uncapped exponent overflows a float after 1,024
# attempts, which a caller that retries forever (Slack's credential check) would reach.
_MAX_EXPONENT = 64


def backoff(
    attempt: int,
    *,
    base: float,
    cap: float,
    floor: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (0 for the first failure).

    `rng`: where the jitter comes from (tests pass one that is not random); the `random`
    module's own generator when None.
    """
    ceiling = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    uniform = random.uniform if rng is None else rng.uniform
    return uniform(floor * ceiling, ceiling)
