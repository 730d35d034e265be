"""One answer to "may this person approve?" (bot/policy/deciders.py), end to end over signed HTTP:
the help card's "You may approve requests for", `/chime pending` and a click on the card agree,
user by user, even where the policy file has become ambiguous for an account since a request
was filed (deciding reads the entry that names the request's account; no Chime call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import offline_bot
from bot.store import Status
from tests.approvals.test_invite import click, only_request
from tests.blockkit import all_text
from tests.policy.test_policy import (
    ALICE,
    CORP_BOSS,
    CORP_GROUP,
    POLICY,
    TEAM_BOSS,
    ask,
    cards,
    dry_run_of,
    with_file,
)


@pytest.fixture
def slack() -> SlackStandIn:
    standin = SlackStandIn()
    standin.usergroups[CORP_GROUP] = [ALICE]
    return standin


async def test_help_pending_and_a_click_agree_on_who_may_approve(
    emulator: ChimeEmulator, slack: SlackStandIn, tmp_path: Path
) -> None:
    store = {"chime_store_url": f"sqlite:///{tmp_path / 'state.db'}"}
    settings = {**store, **with_file(tmp_path, POLICY)}
    await slack.start()
    try:
        async with offline_bot(settings, emulator, slack=slack) as bot:
            await ask(bot, 'invite shared@example.com --account "Example Corp"')
            (card,) = cards(bot)
        # Chime now has a second account of that name: the entry matches both, so nothing new
        # may be filed for either, but the request filed before is still decided under it.
        emulator.add_account(name="Example Corp")
        async with offline_bot(settings, emulator, slack=slack) as bot:
            request = await only_request(bot)
            answers = {}
            for user in (CORP_BOSS, ALICE, TEAM_BOSS, "U0STRANGER"):
                _, approvals = dry_run_of(await ask(bot, "help", user=user))
                listed = request.id in all_text(await ask(bot, "pending", user=user))
                verdict = await bot.runtime.deps.approvals.may_decide(user, request)
                answers[user] = ("Example Corp" in approvals, listed, verdict.allowed)
            assert answers == {
                CORP_BOSS: (True, True, True),
                ALICE: (True, True, True),  # a member of the Corp entry's group
                TEAM_BOSS: (False, False, False),
                "U0STRANGER": (False, False, False),
            }, answers
            # And the clicks themselves.
            for user in (TEAM_BOSS, "U0STRANGER"):
                (refusal,) = await click(bot, card, "Approve", user)
                assert "You can't decide" in all_text(refusal)
            assert await click(bot, card, "Approve", ALICE) == []
            assert (await only_request(bot)).status == Status.APPROVED
    finally:
        await slack.stop()
