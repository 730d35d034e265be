"""Fair use over signed HTTP: one person can hold at most CHIME_MAX_OPEN_PER_REQUESTER open
requests; beyond it a private reply, and nothing is filed or posted, even in a burst."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.config.settings import Settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import settle
from tests.blockkit import all_text, assert_valid_message
from tests.conftest import CHANNEL, REQUESTER

CAP = 3


@pytest.fixture
async def bot(emulator: ChimeEmulator) -> AsyncIterator[OfflineBot]:
    async with offline_bot({"chime_max_open_per_requester": CAP}, emulator=emulator) as running:
        yield running


async def invite(bot: OfflineBot, email: str, user: str = REQUESTER) -> str:
    exchange = await bot.sender.command(
        f'invite {email} --account "Example Corp"', user_id=user, channel_id=CHANNEL
    )
    assert exchange.status == 200
    reply = await exchange.reply()
    assert_valid_message(reply)
    return all_text(reply)


def cards(bot: OfflineBot) -> int:
    return len([m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL])


async def test_a_burst_from_one_person_files_only_up_to_the_cap(bot: OfflineBot) -> None:
    replies = await asyncio.gather(*(invite(bot, f"p{i}@example.com") for i in range(20)))
    filed = [r for r in replies if "awaits approval" in r]
    refused = [r for r in replies if "Too many open requests" in r]
    assert len(filed) == CAP and len(refused) == 20 - CAP
    assert all(f"You already have {CAP} open requests" in r for r in refused)
    assert all("Nothing was filed" in r for r in refused)
    assert cards(bot) == CAP
    pending = await bot.runtime.store.list_by_status(Status.PENDING)
    assert len(pending) == CAP and {r.requester for r in pending} == {REQUESTER}
    # The refused ones never reached Chime: only the filed ones were looked up.
    assert bot.emulator.count("ListAccounts") <= 2 * CAP

    # Someone else is not held back by it.
    assert "awaits approval" in await invite(bot, "other@example.com", user="U0OTHER")
    assert cards(bot) == CAP + 1


async def test_a_decision_frees_a_place(bot: OfflineBot) -> None:
    for i in range(CAP):
        assert "awaits approval" in await invite(bot, f"q{i}@example.com")
    assert "Too many open requests" in await invite(bot, "late@example.com")
    card = next(m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL)
    await bot.sender.click(card.current, "Deny", user_id=DEMO_APPROVER, channel_id=card.channel)
    await settle(bot)
    assert "awaits approval" in await invite(bot, "late@example.com")
    assert cards(bot) == CAP + 1


def test_the_default_cap_is_ten() -> None:
    assert Settings().chime_max_open_per_requester == 10
