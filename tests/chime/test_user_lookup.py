"""`/chime user` end to end: signed HTTP in, emulator over real HTTP, card out via response_url."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import OfflineBot, offline_bot
from tests.blockkit import (
    all_text,
    assert_valid_message,
    literal_problems,
    plain_strings,
    unescaped_angle_brackets,
)
from tests.conftest import CHANNEL, REQUESTER


async def lookup(
    bot: OfflineBot, text: str, *, channel: str = CHANNEL
) -> tuple[int, dict[str, Any]]:
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=channel)
    reply = await exchange.reply()
    return exchange.status, reply


async def test_found_user_gets_private_card_with_details(bot: OfflineBot) -> None:
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert exchange.status == 200
    assert exchange.ack is None, "the Chime work must happen after an empty ack"
    card = await exchange.reply()
    assert card["response_type"] == "ephemeral"
    assert_valid_message(card)
    text = all_text(card)
    for expected in (
        "Ada Lovelace",
        "ada@example.com",
        "Example Corp",
        "EnterpriseLWA",
        "Pro",
        "PrivateUser",
        "Registered",
        "Accepted",
        "provisioned",
    ):
        assert expected in text
    user = bot.emulator.find_users("ada@example.com")[0]
    assert user["UserId"] in text
    # Dates use Slack's date token with a readable fallback.
    assert "<!date^" in text and "UTC>" in text


async def test_pin_is_never_shown_in_full(bot: OfflineBot) -> None:
    pin = bot.emulator.find_users("ada@example.com")[0]["PersonalPIN"]
    _, card = await lookup(bot, "user ada@example.com")
    text = all_text(card) + str(card)
    assert pin not in text
    assert pin[:4] not in text
    assert "••" in all_text(card)


async def test_lookup_calls_list_accounts_then_list_users_then_get_user(
    bot: OfflineBot,
) -> None:
    bot.emulator.reset_calls()
    await lookup(bot, "user ada@example.com")
    ops = [c.operation for c in bot.emulator.calls]
    assert ops == ["ListAccounts", "ListUsers", "GetUser"]
    assert bot.emulator.calls[0].params.get("UserEmail") == "ada@example.com"
    # Chime's account API is global: requests are signed for us-east-1.
    assert {c.region for c in bot.emulator.calls} == {"us-east-1"}


@pytest.mark.parametrize(
    "text",
    [
        "user   ADA@Example.COM  ",
        "user <mailto:ada@example.com|ada@example.com>",
        "user <mailto:Ada@Example.com|Ada@Example.com>",
        "  USER ada@example.com",
    ],
)
async def test_email_as_slack_sends_it(bot: OfflineBot, text: str) -> None:
    _, card = await lookup(bot, text)
    assert "Ada Lovelace" in all_text(card)


async def test_unknown_email_gets_clear_not_found_card(bot: OfflineBot) -> None:
    _, card = await lookup(bot, "user nobody@example.com")
    assert_valid_message(card)
    assert "No Chime user with the email" in card["text"]
    assert "nobody@example.com" in card["text"]


@pytest.mark.parametrize(
    "text",
    [
        "user not-an-email",
        "user",
        "user a@b",
        "user ada@example.com extra",
        "user <@U0123ABC>",
        "user <!channel>",
        "user &lt;ada@example.com&gt;",
        "user ada@exa mple.com",
        "user <http://evil.example|ada@example.com>",
    ],
)
async def test_bad_input_gets_usage_and_makes_no_chime_call(bot: OfflineBot, text: str) -> None:
    bot.emulator.reset_calls()
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200
    assert exchange.ack is not None, "input errors are answered in the ack itself"
    assert exchange.ack["response_type"] == "ephemeral"
    assert_valid_message(exchange.ack)
    assert "Usage: /chime user <email>" in plain_strings(exchange.ack)[-1], "shown literally"
    assert not unescaped_angle_brackets(exchange.ack)
    assert bot.emulator.count() == 0


async def test_hostile_display_name_is_escaped(bot: OfflineBot) -> None:
    _, card = await lookup(bot, "user mallory@example.net")
    assert_valid_message(card)
    assert not unescaped_angle_brackets(card)
    assert not literal_problems(card)
    assert any("<!channel>" in text for text in plain_strings(card)), "shown as plain text"


@pytest.mark.parametrize("text", ["help", "", "HELP", "frobnicate now"])
async def test_help_lists_user_and_invite_with_examples(bot: OfflineBot, text: str) -> None:
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200 and exchange.ack is not None
    assert_valid_message(exchange.ack)
    body = all_text(exchange.ack)
    assert "/chime user" in body and "/chime invite" in body
    assert "Example: `/chime user ada@example.com`" in body
    if text == "frobnicate now":
        assert "frobnicate" in body


async def test_channel_not_on_allowlist_is_refused_before_any_aws_call(bot: OfflineBot) -> None:
    bot.emulator.reset_calls()
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id="C0ELSEWHERE"
    )
    assert exchange.status == 200 and exchange.ack is not None
    assert "CHIME_ALLOWED_CHANNELS" in exchange.ack["text"]
    assert "C0ELSEWHERE" in exchange.ack["text"]
    assert bot.emulator.count() == 0


async def test_empty_allowlist_refuses_everywhere_and_says_why(
    emulator: ChimeEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async with offline_bot({"chime_allowed_channels": ""}, emulator=emulator) as bot:
        for text in ("user ada@example.com", "help"):
            exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
            assert exchange.status == 200 and exchange.ack is not None
            assert "CHIME_ALLOWED_CHANNELS is empty" in exchange.ack["text"]
        assert emulator.count() == 0
    assert any("refused by channel policy" in r.getMessage() for r in caplog.records)


async def test_bad_signature_gets_401_and_no_chime_call(bot: OfflineBot) -> None:
    bot.emulator.reset_calls()
    exchange = await bot.sender.command(
        "user ada@example.com",
        user_id=REQUESTER,
        channel_id=CHANNEL,
        secret="not-the-signing-secret",
    )
    assert exchange.status == 401
    assert bot.emulator.count() == 0
    assert bot.slack.responses[exchange.response_id] == []


async def test_stale_timestamp_gets_401_and_no_chime_call(bot: OfflineBot) -> None:
    bot.emulator.reset_calls()
    exchange = await bot.sender.command(
        "user ada@example.com",
        user_id=REQUESTER,
        channel_id=CHANNEL,
        timestamp=int(time.time()) - 301,
    )
    assert exchange.status == 401
    assert bot.emulator.count() == 0


async def test_healthz_reports_ready(bot: OfflineBot) -> None:
    async with ClientSession() as session, session.get(f"{bot.runtime.url}/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["ready"] is True and body["status"] == "ok"


async def test_repeat_lookup_within_ttl_makes_one_chime_call(bot: OfflineBot) -> None:
    await lookup(bot, "user ada@example.com")
    bot.emulator.reset_calls()
    _, card = await lookup(bot, "user ADA@example.com")
    assert "Ada Lovelace" in all_text(card)
    assert [c.operation for c in bot.emulator.calls] == ["GetUser"]


async def test_cache_entry_is_dropped_when_the_user_is_gone(bot: OfflineBot) -> None:
    await lookup(bot, "user ada@example.com")
    bot.emulator.inject("GetUser", Fault("NotFoundException"))
    bot.emulator.reset_calls()
    _, card = await lookup(bot, "user ada@example.com")
    # The cached user was not found, so the bot looked again from the top (and found her),
    # searching the account it knows beside ListAccounts(UserEmail) (bot/chime/lookup.py).
    ops = [c.operation for c in bot.emulator.calls]
    assert ops[0] == ops[-1] == "GetUser"
    assert sorted(ops[1:-1]) == ["ListAccounts", "ListUsers"]
    assert "Ada Lovelace" in all_text(card)


async def test_cache_expires_after_its_ttl(emulator: ChimeEmulator) -> None:
    async with offline_bot({"chime_account_cache_ttl": 0}, emulator=emulator) as bot:
        await lookup(bot, "user ada@example.com")
        emulator.reset_calls()
        await lookup(bot, "user ada@example.com")
        assert emulator.count() == 3, "with no cache every lookup is a full one"
