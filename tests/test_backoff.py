"""The bot's one backoff (bot/backoff.py): capped, jittered, and safe to call forever."""

from __future__ import annotations

import random

import pytest

from bot.backoff import backoff
from bot.chime.calls import RetryPolicy
from bot.slack.auth import backoff_delays


class Extremes(random.Random):
    """Answers the low or the high end of every range it is asked for."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def test_delays_double_up_to_the_cap() -> None:
    longest = [backoff(n, base=0.25, cap=4.0, rng=Extremes(high=True)) for n in range(7)]
    assert longest == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize(("floor", "shortest"), [(0.0, 0.0), (0.5, 2.0)])
def test_the_floor_is_the_share_of_the_delay_kept_for_certain(
    floor: float, shortest: float
) -> None:
    rng = Extremes(high=False)
    assert backoff(2, base=1.0, cap=30.0, floor=floor, rng=rng) == shortest


def test_a_caller_that_retries_forever_never_overflows() -> None:
    # 2.0**1024 is out of a float's range: an uncapped exponent raised OverflowError here.
    assert backoff(5_000, base=1.0, cap=30.0, rng=Extremes(high=True)) == 30.0
    assert 15.0 <= backoff(5_000, base=1.0, cap=30.0, floor=0.5) <= 30.0


def test_chime_and_slack_use_it_with_their_own_shapes() -> None:
    # Chime: full jitter up to 0.25 s doubling to 4 s.
    assert RetryPolicy().backoff(10, Extremes(high=True)) == 4.0
    assert RetryPolicy().backoff(10, Extremes(high=False)) == 0.0
    # Slack's credential check: 1, 2, 4 ... 30 s, each at least half of it.
    next_delay = backoff_delays()
    delays = [next_delay() for _ in range(8)]
    for ceiling, delay in zip([1, 2, 4, 8, 16, 30, 30, 30], delays, strict=True):
        assert ceiling / 2 <= delay <= ceiling
