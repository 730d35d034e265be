"""Assertions about Block Kit messages, shared by the tests."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.cards.base import WORD_JOINER
from bot.offline.blockkit import message_problems

# The only `<...>` tokens the bot itself may emit: Slack date formatting, and mentions of the
# Slack-issued user, user-group and channel IDs it was sent (never anything typed by a user).
_OWN_TOKEN = re.compile(
    r"<!date\^\d+\^[^|>]*\|[^<>]*>|<@[UW][A-Z0-9]+>|<#[CGD][A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>"
)


def assert_valid_message(message: dict[str, Any]) -> None:
    """Valid as Slack checks it (bot.offline.blockkit: recursively, confirm dialogs included), with
    fallback text."""
    assert message.get("text"), "every reply needs fallback text"
    assert len(message["text"]) <= 4000, "Slack asks for fallback text within 4,000 characters"
    assert message.get("blocks"), "every reply has blocks"
    problems = message_problems(message)
    assert not problems, problems


def text_objects(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every text object in the blocks, nested ones (buttons, confirm dialogs) included."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return found


def mrkdwn_strings(message: dict[str, Any]) -> list[str]:
    """Every string Slack would parse as mrkdwn (or as notification text)."""
    out = [str(message.get("text", ""))]
    out += [str(t["text"]) for t in text_objects(message) if t["type"] == "mrkdwn"]
    return out


def plain_strings(message: dict[str, Any]) -> list[str]:
    return [str(t["text"]) for t in text_objects(message) if t["type"] == "plain_text"]


def unescaped_angle_brackets(message: dict[str, Any]) -> list[str]:
    """mrkdwn strings that would let Slack see a mention, link or other markup we did not make."""
    bad = []
    for text in mrkdwn_strings(message):
        stripped = _OWN_TOKEN.sub("", text)
        if "<" in stripped or ">" in stripped:
            bad.append(text)
    return bad


def all_text(message: dict[str, Any]) -> str:
    """What a reader can see: the fallback text, every mrkdwn and every plain_text string."""
    return "\n".join(mrkdwn_strings(message) + plain_strings(message))


def card_layout(message: dict[str, Any]) -> list[str]:
    """What must not depend on untrusted data: the blocks' mrkdwn, every text object's place,
    and where plain text breaks lines."""
    return [
        str(t["text"])
        if t["type"] == "mrkdwn"
        else f"plain text, {t['text'].count(chr(10))} breaks"
        for t in text_objects(message)
    ] + [str(b.get("type")) for b in message.get("blocks", [])]


def literal_problems(message: dict[str, Any]) -> list[str]:
    """Ways untrusted text could show as something other than itself.

    Untrusted text goes only into plain_text (see bot/cards/base.py), so: every mrkdwn object is
    verbatim, no plain_text shows emoji codes, plain text holds no control or format characters
    (only the word joiner that breaks a URL scheme) and no live `scheme://`, and the fallback
    text has no unescaped `<`/`>` and no unbroken `*`, `_`, `~` or backquote. That the mrkdwn
    holds no data at all is checked by comparing `card_layout` across inputs.
    """
    problems = [f"unescaped markup: {t!r}" for t in unescaped_angle_brackets(message)]
    for obj in text_objects(message):
        text = str(obj["text"])
        if obj["type"] == "mrkdwn":
            if obj.get("verbatim") is not True:
                problems.append(f"mrkdwn without verbatim: {text!r}")
            continue
        if obj.get("emoji") is not False:
            problems.append(f"plain_text that would show emoji codes: {text!r}")
        for char in text:
            category = unicodedata.category(char)
            hidden = category in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in ("\n", WORD_JOINER)
            if hidden:
                problems.append(f"{unicodedata.name(char, hex(ord(char)))} in {text!r}")
        if re.search(r"[A-Za-z]://", text):
            problems.append(f"a live URL scheme in {text!r}")
    fallback = str(message.get("text", ""))
    for match in re.finditer(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])", fallback):
        if fallback[match.end() : match.end() + 1] != WORD_JOINER:
            problems.append(f"unbroken {match.group()!r} in the fallback text {fallback!r}")
    if "\n" in fallback:
        problems.append(f"a line break in the fallback text {fallback!r}")
    return problems
