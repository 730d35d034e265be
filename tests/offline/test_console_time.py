"""The console's `later <duration>`: skipping ahead shows the reminder a pending request gets
and its expiry, as the bot's own sweep would post them; mistakes get a plain hint."""

from __future__ import annotations

from bot.durations import said
from bot.offline.console_time import MAX_SKIP, parse_skip
from tests.offline.test_console import console, steps


def test_later_shows_the_reminder_then_the_expiry() -> None:
    transcript = console(
        '/chime invite new.hire@example.com --account "Example Corp" starts Monday',
        "later 1h",
        "later 3h",
        "later 3h",
        "later 1d",
    )
    _, quiet, reminded, again, expired = steps(transcript)
    assert "(1h later)" in quiet[1] and "nothing happened meanwhile" in quiet[1]
    assert "(3h later)" in reminded[1] and "still waiting" in reminded[1].lower()
    assert "@S0CHIMEADMINS" in reminded[1] and "<!subteam" not in reminded[1]
    assert "nothing happened meanwhile" in again[1], "one reminder, not one per sweep"
    assert "expired" in expired[1].lower()


def test_later_explains_what_it_takes() -> None:
    transcript = console("later", "later soon", "later 0m", "later 99d")
    for step in steps(transcript):
        assert "e.g. later 4h" in step[1]


def test_durations() -> None:
    assert parse_skip("4h") == 4 * 3600
    assert parse_skip("1h30m") == 5400
    assert parse_skip(" 1D ") == 86_400
    assert isinstance(parse_skip("4 hours"), str)
    assert isinstance(parse_skip("-1h"), str)
    assert isinstance(parse_skip(f"{int(MAX_SKIP) + 1}s"), str)
    assert said(5400) == "1h 30m" and said(90_000) == "1d 1h"
