"""Measuring this replica's clock against AWS's `Date` header (bot/aws_clock.py): what one
answer proves, which answers are believed, and when deadlines may not be judged."""

from __future__ import annotations

from email.utils import formatdate

from bot.aws_clock import AwsClock, offset_from
from tests.clock import VirtualClock

AWS_NOW = 1_790_000_000.0


def date(at: float) -> str:
    """An RFC 7231 IMF-fixdate, as AWS writes it: whole seconds, GMT."""
    return formatdate(at, usegmt=True)


def test_one_answer_bounds_the_offset_by_its_round_trip_and_the_headers_second() -> None:
    # Sent at 120.2 s ahead, answered 0.4 s later; the server wrote the second it was in.
    offset = offset_from(
        date(AWS_NOW + 0.7), sent=AWS_NOW + 120.2, received=AWS_NOW + 120.6, source="DynamoDB"
    )
    assert offset is not None
    assert offset.low < 120 - 0.5 < 120 + 0.5 < offset.high
    assert abs(offset.high - offset.low - 1.4) < 1e-6  # 1 s of resolution + 0.4 s of round trip
    assert "ahead of AWS" in offset.describe() and "DynamoDB" in offset.describe()
    assert offset_from("not a date", sent=0, received=1, source="x") is None


def test_the_narrowest_recent_answer_is_believed() -> None:
    clock = VirtualClock(AWS_NOW)
    skew = AwsClock(clock, bound=5, shared=True)
    assert skew.offset is None
    skew.observe(date(AWS_NOW), sent=AWS_NOW - 8, received=AWS_NOW + 8, source="Chime")  # slow
    skew.observe(date(AWS_NOW), sent=AWS_NOW, received=AWS_NOW + 0.1, source="DynamoDB")
    skew.observe(date(AWS_NOW), sent=AWS_NOW - 4, received=AWS_NOW + 4, source="Chime")
    assert skew.offset is not None and skew.offset.source == "DynamoDB"
    assert skew.refusal() is None


def test_a_clock_off_by_more_than_the_bound_refuses_only_on_a_shared_store() -> None:
    clock = VirtualClock(AWS_NOW + 120)
    shared = AwsClock(clock, bound=5, shared=True)
    alone = AwsClock(clock, bound=5, shared=False)
    off = AwsClock(clock, bound=0, shared=True)
    for skew in (shared, alone, off):
        skew.observe(date(AWS_NOW), sent=clock.now(), received=clock.now() + 0.1, source="DynamoDB")
    why = shared.refusal()
    assert why is not None and "ahead of AWS" in why and "CHIME_MAX_CLOCK_SKEW" in why
    assert shared.margin == 5
    assert alone.refusal() is None and alone.margin == 0 and "one machine" in alone.state()
    assert off.refusal() is None and off.margin == 0


def test_unmeasured_on_a_shared_store_refuses() -> None:
    skew = AwsClock(VirtualClock(AWS_NOW), bound=5, shared=True)
    assert skew.refusal() is not None and "not been compared" in (skew.refusal() or "")
    assert AwsClock(VirtualClock(AWS_NOW), bound=5, shared=False).refusal() is None
