"""One approver group Slack cannot list fails closed for what it decides, and only that
(issue 20, item 13): `/chime pending`, help and clicks of approvers through other groups, or of
other accounts, go on as before, over signed HTTP against the running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import click, invite, only_request, the_card
from tests.blockkit import all_text
from tests.conftest import CHANNEL
from tests.policy.test_policy import TEAM_CHANNEL, TEAM_ID, ask, cards, policy_file

GOOD, BROKEN = "S0GOODGROUP", "S0BROKEN"  # BROKEN: Slack answers no_such_subteam
ALICE, TEAM_BOSS = "U0ALICE", "U0TEAMBOSS"

POLICY = f"""
default:
  channels: []
accounts:
  Example Corp:
    channels: [{CHANNEL}]
    approvers: [{GOOD}]
  {TEAM_ID}:
    channels: [{TEAM_CHANNEL}]
    approvers: [{TEAM_BOSS}, {BROKEN}]
"""


@pytest.fixture
def slack() -> SlackStandIn:
    standin = SlackStandIn()
    standin.usergroups[GOOD] = [ALICE]
    return standin


@pytest.fixture
async def with_file(
    emulator: ChimeEmulator, slack: SlackStandIn, tmp_path: Path
) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {"chime_policy_file": policy_file(tmp_path, POLICY)}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as running:
        yield running


async def test_pending_and_help_go_on_for_other_accounts_approvers(with_file: OfflineBot) -> None:
    bot = with_file
    assert "awaits approval" in all_text(
        await ask(bot, 'invite c@example.com --account "Example Corp"')
    )
    filed = await ask(bot, 'invite t@example.com --account "Example Team"', TEAM_CHANNEL)
    assert "awaits approval" in all_text(filed)

    listed = all_text(await ask(bot, "pending", user=ALICE))
    assert "c@example.com" in listed, listed
    assert "t@example.com" not in listed, "BROKEN decides Team's: shown to no one through it"
    assert BROKEN in listed and "no user group with that ID" in listed, "says what is missing"

    boss = all_text(await ask(bot, "pending", user=TEAM_BOSS))
    assert "t@example.com" in boss and "c@example.com" not in boss, boss

    helped = all_text(await ask(bot, "help", user=ALICE))
    assert "Example Corp" in helped and "/chime pending" in helped, helped

    # A click where only the broken group could say yes fails closed, saying why.
    team_card = next(c for c in cards(bot) if "t@example.com" in all_text(c.current))
    (refusal,) = await click(bot, team_card, "Approve", ALICE)
    assert "no user group with that ID" in all_text(refusal)
    assert bot.emulator.count("CreateUser") == 0


async def test_a_member_of_a_readable_group_decides_beside_a_broken_one(
    emulator: ChimeEmulator, slack: SlackStandIn
) -> None:
    """Without a policy file every group decides everything; a member of the readable one is
    an approver all the same (members only add approvers)."""
    overrides: dict[str, object] = {"chime_approvers": f"{GOOD},{BROKEN}"}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        await invite(bot, 'both@example.com --account "Example Corp"')

        listed = all_text(await ask(bot, "pending", user=ALICE))
        assert "both@example.com" in listed, listed

        helped = all_text(await ask(bot, "help", user=ALICE))
        assert "You are an approver" in helped, helped
        assert f"<@{ALICE}>" in helped and "no user group with that ID" in helped

        assert await click(bot, the_card(bot), "Approve", ALICE) == []
        assert (await only_request(bot)).status == Status.APPROVED
        assert bot.emulator.count("CreateUser") == 1

        stranger = all_text(await ask(bot, "pending", user="U0STRANGER"))
        assert "both@example.com" not in stranger and "no user group with that ID" in stranger
