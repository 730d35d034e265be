"""The circuit breaker's states on their own, with a virtual clock."""

from __future__ import annotations

import pytest

from bot.chime.breaker import BreakerState, CircuitBreaker
from tests.clock import VirtualClock


def test_opens_after_a_run_cools_down_probes_once_and_closes() -> None:
    clock = VirtualClock()
    seen: list[BreakerState] = []
    breaker = CircuitBreaker(clock, threshold=3, cool_down=10, on_change=seen.append)
    for _ in range(2):
        assert breaker.admit()
        breaker.failed()
    assert breaker.admit()
    breaker.answered()  # an answer ends the run
    for _ in range(3):
        assert breaker.admit()
        breaker.failed()
    assert breaker.state == BreakerState.OPEN and not breaker.admit()
    assert breaker.retry_in() == pytest.approx(10)
    clock.advance(10)
    assert breaker.admit(), "the probe"
    assert not breaker.admit(), "only one probe at a time"
    breaker.answered()
    assert breaker.state == BreakerState.CLOSED and breaker.admit()
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_reopens_and_an_abandoned_one_frees_the_slot() -> None:
    clock = VirtualClock()
    breaker = CircuitBreaker(clock, threshold=1, cool_down=5)
    breaker.failed()
    clock.advance(5)
    assert breaker.admit()
    breaker.abandoned()
    assert breaker.admit(), "a cancelled probe lets another caller probe"
    breaker.failed()
    assert breaker.state == BreakerState.OPEN and breaker.retry_in() == pytest.approx(5)


def test_failures_of_calls_in_flight_do_not_extend_the_cool_down() -> None:
    clock = VirtualClock()
    breaker = CircuitBreaker(clock, threshold=1, cool_down=5)
    breaker.failed()
    clock.advance(4)
    breaker.failed()
    clock.advance(1)
    assert breaker.admit()


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(VirtualClock(), threshold=0)
