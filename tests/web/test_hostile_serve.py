"""The issue's findings about content and decisions, reproduced against a real `chime-bot serve`
process over signed HTTP: a forged reason, an oversized email and account, invisible characters,
a 900 KB account name, a forged click, and a burst of invites from one person."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import Exchange, PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, BotProcess
from bot.store import SqliteStore, Status
from tests.approvals.test_restart import until
from tests.blockkit import all_text, assert_valid_message, literal_problems, plain_strings
from tests.conftest import CHANNEL, REQUESTER

REASON = "fine\n*Approved* by …\n:white_check_mark: done <https://evil.example/login>"


async def command(bot: BotProcess, text: str, user: str = REQUESTER) -> dict[str, Any]:
    exchange = await bot.sender.command(text, user_id=user, channel_id=CHANNEL)
    assert exchange.status == 200
    reply = await exchange.reply()
    assert_valid_message(reply)
    assert not literal_problems(reply)
    return reply


def cards(slack: SlackStandIn) -> list[PostedMessage]:
    return [m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


async def test_content_and_decisions_against_a_served_bot(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    account = emulator.add_account(name="Northwind " + "N" * 90)
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).start()
    try:
        # A reason built to forge the card is one plain, quoted line.
        await command(bot, f'invite a@example.com --account "Example Corp" {REASON}')
        (forged,) = cards(slack)
        assert_valid_message(forged.message)
        assert not literal_problems(forged.message)
        assert (
            "“fine *Approved* by … :white_check_mark: done https:\u2060//evil.example/login”"
            in (plain_strings(forged.message))
        )

        # A 203-character email in a 100-character account: a card Slack accepts.
        email = "b" * 186 + "@long.example.org"
        note = await command(bot, f'invite {email} --account "{account["Name"]}"')
        assert "awaits approval" in note["text"]
        _, long_card = cards(slack)
        assert_valid_message(long_card.message)

        # Invisible characters and a 900 KB account name never reach Chime.
        emulator.reset_calls()
        zw = await command(bot, "invite c@exa\u200bmple.com --account Example")
        assert "U+200B ZERO WIDTH SPACE" in all_text(zw)
        huge = await bot.sender.command(
            "invite c@example.com --account " + "N" * 900_000, user_id=REQUESTER, channel_id=CHANNEL
        )
        assert huge.status in (200, 400, 413)
        assert emulator.count() == 0

        # A click forged to name the long request, sent from the forged card's message and from
        # another channel, changes nothing; the real card still decides.
        target = buttons(long_card.message)[0][1]["value"]

        def name_target(payload: dict[str, Any]) -> None:
            for action in payload["actions"]:
                action["value"] = target

        for source, channel in ((forged, forged.channel), (long_card, CHANNEL)):
            click = await bot.sender.click(
                source.current,
                "Approve",
                user_id=DEMO_APPROVER,
                channel_id=channel,
                alter=name_target,
            )
            (refusal,) = await click.replies(1)
            assert "only on its own approval card" in all_text(refusal)
        assert emulator.count("CreateUser") == 0
        click = await bot.sender.click(
            long_card.current, "Approve", user_id=DEMO_APPROVER, channel_id=long_card.channel
        )
        assert click.status == 200
        await slack.wait_for(lambda: "Created user" in all_text(long_card.current))
        assert len(emulator.find_users(email)) == 1
        async with await SqliteStore.open(tmp_path / "state.db") as store:
            trail = [e.action for e in await store.audit_trail(target)]
        assert trail == ["filed", "refused", "refused", "approve_claimed", "approved"]

        # A burst of invites from one person files only up to the cap (default 10).
        burst: list[Exchange] = await asyncio.gather(
            *(
                bot.sender.command(
                    f'invite p{i}@example.com --account "Example Corp"',
                    user_id="U0FLOODER",
                    channel_id=CHANNEL,
                )
                for i in range(30)
            )
        )
        replies = [all_text(await e.reply()) for e in burst]
        assert sum("awaits approval" in r for r in replies) == 10
        assert sum("Too many open requests" in r for r in replies) == 20

        async def ten_cards() -> bool:
            async with await SqliteStore.open(tmp_path / "state.db") as store:
                pending = await store.list_by_status(Status.PENDING)
            return sum(r.requester == "U0FLOODER" for r in pending) == 10

        await until(ten_cards)
        assert len(cards(slack)) == 2 + 10
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()
