"""A message the bot sends to Slack: fallback `text` and Block Kit `blocks`, whichever surface
carries it (response_url, chat.postMessage, chat.update). Built by bot/cards; sent by this
package's notify and replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.slack.limits import MAX_FALLBACK, units

Block = dict[str, Any]
WORD_JOINER = "\u2060"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # notification/fallback text: built with `literal()` for any data in it
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        if units(self.text) > MAX_FALLBACK:
            text = shorten(self.text, MAX_FALLBACK - 1)
            if text[-2:-1] in ("*", "_", "~", "`"):
                text = text[:-1] + WORD_JOINER + "…"  # the cut must not free a marker
            object.__setattr__(self, "text", text)

    def as_message(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def shorten(text: str, limit: int, *, middle: bool = False) -> str:
    """`text` within `limit` UTF-16 units, with `…` where it was cut: at the end, or in the
    middle (for emails and names, whose end matters as much as their start)."""
    if units(text) <= limit:
        return text
    if not middle:
        return _take(text, limit - 1) + "…"
    head = _take(text, (limit - 1) // 2)
    tail = _take(text[::-1], limit - 1 - units(head))[::-1]
    return head + "…" + tail


def _take(text: str, budget: int) -> str:
    taken, used = [], 0
    for char in text:
        used += units(char)
        if used > budget:
            break
        taken.append(char)
    return "".join(taken)
