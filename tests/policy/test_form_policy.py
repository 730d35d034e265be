"""The request form under the per-account policy file: it offers only the accounts the policy
lets this channel request for, and a submission is held to the account's rules (channel, user
type) exactly as the slash command is.

Over signed HTTP with the policy of tests/policy/test_policy.py: Example Corp takes requests from
CHANNEL and only PrivateUser; Example Team only from TEAM_CHANNEL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cards.form import Field
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import OfflineBot, offline_bot
from tests.approvals.test_invite import dms_to, settle
from tests.approvals.test_request_form import (
    CORP,
    TEAM,
    fields,
    offered,
    requests,
    submit,
    the_form,
)
from tests.blockkit import all_text
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER
from tests.policy.test_policy import POLICY, TEAM_CHANNEL, with_file


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[OfflineBot]:
    async with offline_bot(
        with_file(tmp_path, POLICY), emulator=emulator, clock=clock, slack=SlackStandIn()
    ) as running:
        yield running


async def form_in(bot: OfflineBot, channel: str) -> Any:
    exchange = await bot.sender.command("invite", user_id=REQUESTER, channel_id=channel)
    assert exchange.status == 200
    await settle(bot)
    return the_form(bot)


async def test_the_form_offers_only_what_the_channel_may_request_for(bot: OfflineBot) -> None:
    assert offered(await form_in(bot, CHANNEL)) == {CORP: "Example Corp"}


async def test_the_form_in_another_channel_offers_that_channels_accounts(
    bot: OfflineBot,
) -> None:
    assert offered(await form_in(bot, TEAM_CHANNEL)) == {TEAM: "Example Team"}


async def test_an_account_of_another_channel_is_refused_in_the_form(bot: OfflineBot) -> None:
    form = await form_in(bot, CHANNEL)

    def choose(payload: dict[str, Any]) -> None:
        state = payload["view"]["state"]["values"][Field.ACCOUNT][Field.ACCOUNT]
        state["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": TEAM}

    exchange = await submit(bot, form, fields("new@example.com", CORP), alter=choose)
    assert exchange.ack is not None and set(exchange.ack["errors"]) == {Field.ACCOUNT}
    assert not await requests(bot)


async def test_a_user_type_the_account_refuses_is_not_filed(bot: OfflineBot) -> None:
    form = await form_in(bot, CHANNEL)
    values = {**fields("new@example.com", CORP), Field.USER_TYPE: "SharedDevice"}
    await submit(bot, form, values)
    await bot.slack.wait_for(lambda: len(dms_to(bot, REQUESTER)) == 1)
    (note,) = dms_to(bot, REQUESTER)
    assert "Request not filed" in all_text(note) and "SharedDevice" in all_text(note)
    assert not await requests(bot)
