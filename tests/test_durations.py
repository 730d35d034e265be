"""One grammar for durations (bot/durations.py), and the two inputs that take one agreeing on it:
the console's `later` skips exactly as far back as `chime-bot audit --since` counts an age."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import UNITS, NotADuration, parse_duration, said
from bot.offline.console_time import MAX_SKIP, parse_skip
from bot.ops.audit import parse_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

parts = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4
)


def typed(chosen: list[tuple[int, str]], space: str, upper: bool) -> str:
    text = space.join(f"{n}{unit.upper() if upper else unit}" for n, unit in chosen)
    return f" {text} "


@given(parts, st.sampled_from(["", " "]), st.booleans())
def test_every_duration_means_the_same_to_the_console_and_to_audit(
    chosen: list[tuple[int, str]], space: str, upper: bool
) -> None:
    text = typed(chosen, space, upper)
    seconds = sum(n * UNITS[unit] for n, unit in chosen)
    assert parse_duration(text) == seconds
    assert parse_time(text, now=NOW) == NOW.timestamp() - seconds
    skip = parse_skip(text)
    if 0 < seconds <= MAX_SKIP:
        assert skip == seconds
    else:
        assert isinstance(skip, str), "out of the console's range, said in words"


@pytest.mark.parametrize(
    "text", ["", "   ", "4", "h", "4 hours", "-1h", "1.5h", "4h!", "1h30", "1y", "9" * 13 + "s"]
)
def test_what_is_no_duration_is_refused_by_both(text: str) -> None:
    with pytest.raises(NotADuration):
        parse_duration(text)
    assert parse_skip(text) == "say how long, like 4h, 30m, 1d or 1h30m"
    if text.strip():
        with pytest.raises(ValueError, match="not a time"):
            parse_time(text, now=NOW)


def test_what_each_caller_adds() -> None:
    assert parse_skip("0m") == "skip ahead by more than nothing"
    assert parse_skip("31d") == "skip at most 30 days at a time"
    assert parse_time("0h", now=NOW) == NOW.timestamp(), "audit counts an age of nothing as now"
    assert parse_time("999999999999w", now=NOW) < 0, "a long age is a time long ago, no crash"


@given(st.integers(0, 400 * 86_400))
def test_said_reads_back_as_the_same_duration(seconds: int) -> None:
    spoken = said(seconds)
    if seconds == 0:
        assert spoken == ""
    else:
        assert parse_duration(spoken) == seconds


def test_said() -> None:
    assert said(5400) == "1h 30m" and said(90_000) == "1d 1h" and said(4 * 3600) == "4h"
