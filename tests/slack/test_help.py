"""`/chime help` shows the user lifecycle commands (issue 21, item 9): each with its usage and
example as the parser's SYNTAX gives them, grouped under "Change a user", with which of them
wait for an approver by default and that the policy file may say otherwise. Over signed HTTP,
as a user gets the card, with and without CHIME_POLICY_FILE; valid Block Kit either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.cards.base import escape
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.slack.commands import SYNTAX
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets
from tests.conftest import CHANNEL, REQUESTER
from tests.policy.test_policy import POLICY, with_file

LIFECYCLE = ("suspend", "unsuspend", "logout", "reset-pin", "license")


async def help_card(bot: OfflineBot, user: str = REQUESTER) -> dict[str, Any]:
    exchange = await bot.sender.command("help", user_id=user, channel_id=CHANNEL)
    assert exchange.status == 200
    card = exchange.ack if exchange.ack is not None else await exchange.reply()
    assert_valid_message(card)
    assert not unescaped_angle_brackets(card)
    return card


def section_texts(card: dict[str, Any]) -> list[str]:
    return [str(b["text"]["text"]) for b in card["blocks"] if b["type"] == "section"]


def assert_shows_the_lifecycle_commands(card: dict[str, Any]) -> None:
    text = all_text(card)
    for name in LIFECYCLE:
        usage, example = SYNTAX[name]
        # As the card writes them in mrkdwn: `<email>` escaped.
        assert f"*`{escape(usage)}`*" in text, name
        assert f"Example: `{escape(example)}`" in text, name
    # Grouped: the heading comes after the request commands and before the first change.
    sections = section_texts(card)
    heading = next(i for i, s in enumerate(sections) if "*Change a user*" in s)
    invite = next(i for i, s in enumerate(sections) if s.startswith("*`/chime invite &lt;"))
    suspend = next(i for i, s in enumerate(sections) if s.startswith("*`/chime suspend"))
    assert invite < heading < suspend
    # Which wait for an approver by default, and that the policy file may say otherwise.
    assert "waits for an approver" in text and "except resetting your own PIN" in text
    assert "policy file" in text
    assert_shows_time_bound_access(card)


def assert_shows_time_bound_access(card: dict[str, Any]) -> None:
    """`--for` on invite's usage and with an example of its own, and `/chime access` with what
    it lists, in the "Change a user" group."""
    text = all_text(card)
    usage, _ = SYNTAX["invite"]
    assert "[--for <duration>]" in usage
    assert f"*`{escape(usage)}`*" in text
    assert "Example: `/chime invite ada@example.com --for 30d contractor`" in text
    sections = section_texts(card)
    heading = next(i for i, s in enumerate(sections) if "*Change a user*" in s)
    (access,) = [s for s in sections[heading:] if s.startswith("*`/chime access`*")]
    summary = access.splitlines()[1]
    assert "time-bound access" in summary and "ends" in summary


async def test_help_lists_the_lifecycle_commands_with_examples_and_approval(
    bot: OfflineBot,
) -> None:
    for user in (REQUESTER, DEMO_APPROVER):
        card = await help_card(bot, user)
        assert_shows_the_lifecycle_commands(card)
    assert "/chime pending" in all_text(card), "the approver's card keeps its own entry"


async def test_help_with_a_policy_file_lists_them_too(
    emulator: ChimeEmulator, tmp_path: Path
) -> None:
    slack = SlackStandIn()
    async with offline_bot(with_file(tmp_path, POLICY), emulator=emulator, slack=slack) as bot:
        card = await help_card(bot)
    assert_shows_the_lifecycle_commands(card)
    assert "You may approve requests for:" in all_text(card), "the dry run is still there"
