"""Hostile and oversized input over signed HTTP against the running bot: cards that cannot be
forged by their contents, every message valid by Slack's rules (the stand-in refuses what Slack
would), and arguments refused before any Chime call when an approver could misread them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from tests.approvals.test_invite import settle
from tests.blockkit import (
    all_text,
    assert_valid_message,
    card_layout,
    literal_problems,
    plain_strings,
)
from tests.conftest import CHANNEL, REQUESTER

ISSUE_REASON = "fine\n*Approved* by …\n:white_check_mark: done https://evil.example/login"


@pytest.fixture
async def bot(emulator: ChimeEmulator) -> AsyncIterator[OfflineBot]:
    async with offline_bot(emulator=emulator) as running:
        yield running


async def command(bot: OfflineBot, text: str) -> dict[str, Any]:
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200
    reply = await exchange.reply()
    assert_valid_message(reply)
    assert not literal_problems(reply), literal_problems(reply)
    return reply


def cards(bot: OfflineBot) -> list[PostedMessage]:
    return [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


def layout(message: dict[str, Any]) -> list[str]:
    return [re.sub(r"<!date\^[^>]*>", "<date>", part) for part in card_layout(message)]


async def approve(bot: OfflineBot, card: PostedMessage) -> None:
    exchange = await bot.sender.click(
        card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
    )
    assert exchange.status == 200
    await settle(bot)
    assert bot.slack.responses[exchange.response_id] == []


@pytest.mark.parametrize(
    "sent",
    [
        # As typed (shift-enter makes new lines), with the URL as Slack wraps it in command text.
        ISSUE_REASON.replace("https://evil.example/login", "<https://evil.example/login>"),
        ISSUE_REASON,
        f'"{ISSUE_REASON}"',
    ],
)
async def test_the_issues_reason_cannot_forge_the_card(bot: OfflineBot, sent: str) -> None:
    await command(bot, f'invite victim@example.com --account "Example Corp" {sent}')
    await command(bot, 'invite plain@example.com --account "Example Corp" x')
    card, harmless = cards(bot)
    for message in (card.message, harmless.message):
        assert_valid_message(message)
        assert not literal_problems(message), literal_problems(message)
    assert layout(card.message) == layout(harmless.message), "the reason changed the card"
    quote = "“fine *Approved* by … :white_check_mark: done https:\u2060//evil.example/login”"
    assert quote in plain_strings(card.message), "one plain line, in its own block"

    await approve(bot, card)
    assert bot.emulator.find_users("victim@example.com")
    final = card.current
    assert_valid_message(final)
    assert not literal_problems(final)
    assert quote in plain_strings(final)
    (dm,) = [m.message for m in bot.slack.messages if m.channel == "D0REQUESTER"]
    assert_valid_message(dm)
    assert not literal_problems(dm)


async def test_long_email_in_long_account_posts_a_valid_card_and_approves(
    bot: OfflineBot,
) -> None:
    account = bot.emulator.add_account(name="Northwind " + "N" * 90)  # Chime's maximum: 100
    email = "a" * 170 + "." + "b" * 15 + "@long.example.org"  # 203 characters
    assert len(account["Name"]) == 100 and len(email) == 203
    note = await command(bot, f'invite {email} --account "{account["Name"]}"')
    assert "awaits approval" in note["text"], all_text(note)
    (card,) = cards(bot)
    assert_valid_message(card.message)
    (_, approve_button), _ = buttons(card.message)
    assert len(approve_button["confirm"]["text"]["text"]) <= 300
    assert email in plain_strings(card.message) and account["Name"] in all_text(card.message)
    await approve(bot, card)
    (created,) = bot.emulator.find_users(email)
    assert created["PrimaryEmail"] == email
    assert_valid_message(card.current)


async def test_hostile_chime_data_shows_literally(bot: OfflineBot) -> None:
    account = bot.emulator.add_account(name="*Evil* <!here> https://evil.example #general")
    bot.emulator.add_user(
        account["AccountId"],
        email="eve@example.com",
        display_name="Eve\n*Approved* by <@U0BOSS> \u202egnp.exe",
    )
    card = await command(bot, "user eve@example.com")
    shown = plain_strings(card)
    assert "Eve *Approved* by <@U0BOSS> gnp.exe" in shown[1]
    assert any("*Evil* <!here> https:\u2060//evil.example #general" in t for t in shown)


async def test_the_stand_in_refuses_invalid_blocks_like_slack(
    session: ClientSession,
) -> None:
    slack = SlackStandIn()
    await slack.start()
    try:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        too_long = {"type": "plain_text", "text": "x" * 301}
        confirm = {
            "title": {"type": "plain_text", "text": "Sure?"},
            "text": too_long,
            "confirm": {"type": "plain_text", "text": "Yes"},
            "deny": {"type": "plain_text", "text": "No"},
        }
        button = {"type": "button", "text": too_long | {"text": "Go"}, "action_id": "a"}
        invalid = [{"type": "actions", "elements": [button | {"confirm": confirm}]}]
        for call in (
            client.chat_postMessage(channel="C1", text="t", blocks=invalid),
            client.chat_update(channel="C1", ts="1.1", text="t", blocks=invalid),
            client.chat_postEphemeral(channel="C1", user="U1", text="t", blocks=invalid),
        ):
            with pytest.raises(SlackApiError) as refused:
                await call
            assert refused.value.response["error"] == "invalid_blocks"
            assert "confirm.text" in str(refused.value.response["errors"])
        assert slack.messages == []
        rid, url = slack.new_response_url()
        async with session.post(url, json={"text": "t", "blocks": invalid}) as resp:
            assert resp.status == 400 and await resp.text() == "invalid_blocks"
        assert slack.responses[rid] == []
        valid = [
            {
                "type": "actions",
                "elements": [button | {"confirm": confirm | {"text": too_long | {"text": "ok"}}}],
            }
        ]
        posted = await client.chat_postMessage(channel="C1", text="t", blocks=valid)
        assert posted["ok"]
    finally:
        await slack.stop()


@pytest.mark.parametrize(
    ("email", "named"),
    [
        ("ada@exa\u200bmple.com", "U+200B ZERO WIDTH SPACE"),
        ("moc.elpmaxe@ada\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("<mailto:ada@example.com\u2066|ada@example.com>", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("ada\u00ad@example.com", "U+00AD SOFT HYPHEN"),
        ("ada@example.com\x7f", "U+007F control character"),
    ],
)
@pytest.mark.parametrize("sub", ["user", "invite"])
async def test_invisible_characters_in_emails_are_refused_before_chime(
    bot: OfflineBot, sub: str, email: str, named: str
) -> None:
    reply = await command(
        bot, f"{sub} {email}" + (' --account "Example Corp"' if sub == "invite" else "")
    )
    text = all_text(reply)
    assert named in text and "cannot be seen" in text
    assert "⟨U+" in text, "the character is shown where it is"
    assert bot.emulator.count() == 0
    assert cards(bot) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("a" * 242 + '@example.com --account "Example Corp"', None),  # 254: the maximum
        ("a" * 243 + "@example.com", "has 255 characters; the most an address can have is 254"),
        ('x@example.com --account "' + "N" * 101 + '"', "Amazon Chime allows at most 100"),
        ("x@example.com --account " + "N" * 900_000, "Amazon Chime allows at most 100"),
        ('x@example.com --account "Ex\u200bample Corp"', "U+200B ZERO WIDTH SPACE"),
        ("x@example.com " + "why " * 126, "The reason has 503 characters; keep it to 500"),
    ],
)
async def test_every_argument_has_a_limit(bot: OfflineBot, args: str, expected: str | None) -> None:
    exchange = await bot.sender.command(f"invite {args}", user_id=REQUESTER, channel_id=CHANNEL)
    if expected is None:
        assert exchange.status == 200 and exchange.ack is None
        assert "awaits approval" in (await exchange.reply())["text"]
        return
    # A huge body may be refused by the HTTP layer itself; either way Chime is never asked.
    assert exchange.status in (200, 400, 413)
    if exchange.status == 200:
        assert exchange.ack is not None, "refused in the ack itself"
        assert_valid_message(exchange.ack)
        assert expected in all_text(exchange.ack)
    assert bot.emulator.count() == 0


async def test_reason_keeps_printable_text_only(bot: OfflineBot) -> None:
    reason = "starts\tMonday\u200b\u202e <@U0BOSS|boss> in <#C0GENERAL|general> <!here> \x07ok"
    await command(bot, f'invite r@example.com --account "Example Corp" {reason}')
    (card,) = cards(bot)
    shown = "“starts Monday @boss in #general @here ok”"  # Slack's markup as its text
    assert shown in plain_strings(card.message)
