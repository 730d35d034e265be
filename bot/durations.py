"""Durations as people type them: `4h`, `30m`, `1d`, `90s`, `2w`, `1h30m`. One grammar for every
input that takes one (the console's `later`, `chime-bot audit --since/--until`), and the one way
of saying a duration back.

A duration is one or more parts, each a whole number and a unit (s, m, h, d, w), in any letter
case, with spaces allowed around them: `24h`, `24 h`, `1h 30m`. Each caller says what it accepts
beyond that (the console skips ahead by more than nothing and at most a month; audit counts an
age back from now, zero included) and words its own refusals.
"""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Twelve digits are more than any caller's bound (a month, a lifetime of audit events) and keep
# the arithmetic in range: a longer number is no duration, not an overflow.
_PART = re.compile(r"\s*(\d{1,12})\s*([smhdw])\s*")


class NotADuration(ValueError):
    """The text is not a duration in this grammar."""


def parse_duration(text: str) -> int:
    """Seconds for `text`; NotADuration if it is not one or more parts like 4h or 30m."""
    folded = text.lower()
    seconds, at = 0, 0
    while at < len(folded):
        part = _PART.match(folded, at)
        if part is None or part.end() == at:
            break
        seconds += int(part.group(1)) * UNITS[part.group(2)]
        at = part.end()
    if at == 0 or at < len(folded):
        raise NotADuration(f"{text.strip()!r} is not a duration like 4h, 30m, 1d or 1h30m")
    return seconds


def said(seconds: float) -> str:
    """`seconds` as a person would say it: 4h, 1d 2h, 5400 → 1h 30m (whole seconds, weeks said
    as days)."""
    out, left = [], int(seconds)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return " ".join(out)
