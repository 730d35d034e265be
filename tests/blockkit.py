"""Assertions about Block Kit messages, shared by the tests."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import Block

# The only `<...>` tokens the bot itself may emit: Slack date formatting, and mentions of the
# Slack-issued user and channel IDs it was sent (never anything typed by a user).
_OWN_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*\|[^<>]*>|<@[UW][A-Z0-9]+>|<#[CGD][A-Z0-9]+>")


def assert_valid_message(message: dict[str, Any]) -> None:
    """Valid per slack_sdk's models, within Slack's limits, with fallback text."""
    assert message.get("text"), "every reply needs fallback text"
    blocks = message.get("blocks") or []
    assert 0 < len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()


def mrkdwn_strings(message: dict[str, Any]) -> list[str]:
    """Every string Slack would parse as mrkdwn (or as notification text)."""
    out = [str(message.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return out


def unescaped_angle_brackets(message: dict[str, Any]) -> list[str]:
    """mrkdwn strings that would let Slack see a mention, link or other markup we did not make."""
    bad = []
    for text in mrkdwn_strings(message):
        stripped = _OWN_TOKEN.sub("", text)
        if "<" in stripped or ">" in stripped:
            bad.append(text)
    return bad


def all_text(message: dict[str, Any]) -> str:
    return "\n".join(mrkdwn_strings(message))
