"""Render Block Kit messages as readable terminal text, for `demo` and `console`.

It shows what a person would read in Slack: mrkdwn markers dropped, entities decoded, Slack date
tokens replaced by their fallback text, buttons as `[label]` (or `[n] label` when numbered).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from bot.slack.text import unescape

_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_MENTION = re.compile(r"<([@#])([A-Z0-9]+)>")
# A user-group mention (docs.slack.dev/messaging/formatting-message-text: <!subteam^ID>), shown
# as Slack shows it, @ and the group.
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
# Every emoji code the bot's messages use, as the glyph Slack shows for it: the console shows
# what Slack shows, never a raw `:code:` beside a symbol (tests render every card to check).
EMOJI = {
    ":warning:": "⚠",
    ":white_check_mark:": "✔",
    ":x:": "✘",
    ":hourglass_flowing_sand:": "⏳",
    ":hourglass:": "⌛",
    ":no_entry:": "⛔",
    ":tada:": "🎉",
    ":bell:": "🔔",
    ":busts_in_silhouette:": "👥",
}


@dataclass(frozen=True, slots=True)
class Style:
    bold: Callable[[str], str]
    dim: Callable[[str], str]
    accent: Callable[[str], str]

    @classmethod
    def plain(cls) -> Style:
        return cls(bold=str, dim=str, accent=str)

    @classmethod
    def ansi(cls) -> Style:
        return cls(
            bold=lambda s: f"\x1b[1m{s}\x1b[0m",
            dim=lambda s: f"\x1b[2m{s}\x1b[0m",
            accent=lambda s: f"\x1b[36m{s}\x1b[0m",
        )

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        """Colour on a terminal; plain text when piped, or when NO_COLOR is set (no-color.org)."""
        if stream.isatty() and not os.environ.get("NO_COLOR"):
            return cls.ansi()
        return cls.plain()


def mrkdwn_to_text(text: str) -> str:
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2), text)
    text = _MENTION.sub(lambda m: m.group(1) + m.group(2), text)
    text = _GROUP.sub(lambda m: "@" + m.group(1), text)
    for code, glyph in EMOJI.items():
        text = text.replace(code, glyph)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    text = re.sub(r"`([^`\n]+)`", r"\1", text)
    return unescape(text)


def _text(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    raw = str(obj.get("text", ""))
    return mrkdwn_to_text(raw) if obj.get("type") == "mrkdwn" else raw


ButtonLabel = Callable[[str, dict[str, Any]], str]


def render(
    message: dict[str, Any], *, style: Style | None = None, label: ButtonLabel | None = None
) -> str:
    """The message as lines of text; `label(block_id, button)` can number buttons."""
    style = style or Style.plain()
    blocks = message.get("blocks") or []
    if not blocks:
        return mrkdwn_to_text(str(message.get("text", "")))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [style.bold(title), style.dim("─" * min(len(title), 60))]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            items = block.get("fields") or []
            # Fields come in label/value pairs, shown by Slack as two columns.
            for name_item, value_item in zip(items[::2], items[1::2], strict=False):
                name, value = _text(name_item), _text(value_item)
                # Pad before styling: colour codes would count towards the width.
                lines.append(f"  {style.bold(f'{name + chr(58):<24}')} {value}")
        elif kind == "context":
            lines.append(style.dim("  ".join(_text(e) for e in block.get("elements", []))))
        elif kind == "divider":
            lines.append(style.dim("─" * 40))
        elif kind == "actions":
            shown = []
            for element in block.get("elements", []):
                if element.get("type") != "button":
                    continue
                text = element["text"]["text"]
                shown.append(label(block.get("block_id", ""), element) if label else f"[{text}]")
            lines.append(style.accent("  ".join(shown)))
    return "\n".join(lines)
