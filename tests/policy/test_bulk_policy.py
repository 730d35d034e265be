"""Bulk invites under the per-account policy file: the account's channels and TTL apply to the
whole list, and a two-approval account needs two different approvers before any Chime call.

Over signed HTTP against the Slack stand-in and the emulator, with the policy of
tests/policy/test_policy.py (Example Team: its own channel, two approvals; Example Corp: PrivateUser
only, a one-hour TTL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_bulk_invite import every_request
from tests.approvals.test_invite import click, the_card
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.policy.test_policy import (
    POLICY,
    TEAM_BOSS,
    TEAM_BOSS2,
    TEAM_CHANNEL,
    ask,
    nothing_open,
    with_file,
)

EMAILS = ["one@new.example.org", "two@new.example.org", "three@new.example.org"]


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[OfflineBot]:
    async with offline_bot(
        with_file(tmp_path, POLICY), emulator=emulator, clock=clock, slack=SlackStandIn()
    ) as running:
        yield running


async def test_a_bulk_invite_from_a_channel_the_account_does_not_allow_files_nothing(
    bot: OfflineBot,
) -> None:
    refused = await ask(bot, "invite " + " ".join(EMAILS) + ' --account "Example Team"')
    assert "Request not filed" in all_text(refused) and TEAM_CHANNEL in all_text(refused)
    assert await nothing_open(bot)


async def test_a_bulk_invite_refuses_a_user_type_the_account_does_not_allow(
    bot: OfflineBot,
) -> None:
    text = "invite " + " ".join(EMAILS) + ' --account "Example Corp" --type SharedDevice'
    refused = await ask(bot, text)
    assert "Request not filed" in all_text(refused) and "SharedDevice" in all_text(refused)
    assert await nothing_open(bot)


async def test_a_bulk_invite_takes_the_accounts_ttl(bot: OfflineBot) -> None:
    await ask(bot, "invite " + " ".join(EMAILS) + ' --account "Example Corp"')
    requests = await every_request(bot)
    assert len(requests) == 3
    assert {r.expires_at - r.created_at for r in requests} == {3600}


async def test_a_two_approval_account_needs_two_approvers_for_the_whole_list(
    bot: OfflineBot, emulator: ChimeEmulator
) -> None:
    filed = await ask(bot, "invite " + " ".join(EMAILS) + ' --account "Example Team"', TEAM_CHANNEL)
    assert "awaits approval" in all_text(filed)
    card = the_card(bot)

    assert await click(bot, card, "Approve all 3", TEAM_BOSS) == []
    assert emulator.count("InviteUsers") == 0, "one approval of two does nothing in Chime"
    assert_valid_message(card.current)
    shown = all_text(card.current)
    assert "1 of 2 approvals" in shown and "Approve all 3" in shown
    assert {r.status for r in await every_request(bot)} == {Status.PENDING}

    again = await click(bot, card, "Approve all 3", TEAM_BOSS)
    assert "already approved" in all_text(again[0])
    assert emulator.count("InviteUsers") == 0, "the same approver never counts twice"

    await click(bot, card, "Approve all 3", TEAM_BOSS2)
    assert emulator.count("InviteUsers") == 1, "the second approver's click makes one call"
    requests = await every_request(bot)
    assert {r.status for r in requests} == {Status.APPROVED}
    assert "Approve all" not in all_text(card.current)
