"""Under the two-person rule an approval counts only while its approver may still decide: at the
final claim every recorded approval is judged again under the current policy (issue 20, item 3).

End to end over signed HTTP on both stores: a member of the approver group approves, is removed
from the group (the `subteam_members_changed` event the bot learns it from), and a second
approver's click then creates nothing; the card says why, and a third approver completes it with
exactly one CreateUser, however the clicks race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import MethodFault, PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import OfflineBot, offline_bot
from bot.store import Status
from bot.store.rules import lapsed_in
from tests.approvals.test_invite import click, dms_to, invite, only_request, settle, the_card
from tests.blockkit import all_text, assert_valid_message, literal_problems
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import REQUESTER

pytest_plugins = ("tests.dynamo",)

GROUP = "S0APPROVERS"
ALICE = "U0ALICE"  # an approver only through the group
SECOND, THIRD = "U0APPROVER2", "U0APPROVER3"  # listed directly


@pytest.fixture
def slack() -> SlackStandIn:
    standin = SlackStandIn()
    standin.usergroups[GROUP] = [ALICE]
    return standin


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest,
    emulator: ChimeEmulator,
    slack: SlackStandIn,
    clock: VirtualClock,
) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {
        "chime_approvers": f"{GROUP},{SECOND},{THIRD}",
        "chime_approvals_required": 2,
        "chime_group_cache_ttl": 3600.0,
    }
    if request.param == "dynamodb":
        table = request.getfixturevalue("dynamo_table")
        overrides.update(chime_store_url=f"dynamodb://{table}", aws_region="us-east-1")
        overrides.update(TRUST_VIRTUAL_TIME)
    async with offline_bot(overrides, emulator=emulator, clock=clock, slack=slack) as running:
        yield running


def creates(bot: OfflineBot) -> int:
    assert bot.emulator is not None
    return bot.emulator.count("CreateUser")


def card_says(card: PostedMessage) -> str:
    assert_valid_message(card.current)
    assert not literal_problems(card.current)
    return all_text(card.current)


async def alice_approves_then_leaves_the_group(bot: OfflineBot) -> PostedMessage:
    note = await invite(bot, 'pair@example.com --account "Example Corp" two keys')
    assert "awaits approval" in note["text"]
    card = the_card(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    assert (await only_request(bot)).approvals == (ALICE,)
    # Slack tells the bot the way it does today: the group's change event.
    delivered = await bot.sender.event(bot.slack.change_members(GROUP, []))
    assert delivered.status == 200
    await settle(bot)
    return card


async def test_an_approval_by_someone_who_lost_the_right_does_not_count(bot: OfflineBot) -> None:
    card = await alice_approves_then_leaves_the_group(bot)

    assert await click(bot, card, "Approve", SECOND) == []

    assert creates(bot) == 0, "Alice's approval no longer counts: no second approver yet"
    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (SECOND,)
    text = card_says(card)
    assert f"<@{ALICE}>'s approval no longer counts" in text
    assert "no longer an approver" in text and "waiting for one more approver" in text
    assert f"1 of 2 approvals* · approved by <@{SECOND}>" in text
    assert [b["text"]["text"] for _, b in buttons(card.current)] == ["Approve", "Deny"]
    trail = await bot.runtime.store.audit_trail(request.id)
    assert [(e.action, e.actor) for e in trail] == [
        ("filed", REQUESTER),
        ("approval_recorded", ALICE),
        ("approval_recorded", SECOND),
    ]
    assert lapsed_in(trail[-1]) == {ALICE: "no longer an approver"}

    assert await click(bot, card, "Approve", THIRD) == []

    assert creates(bot) == 1
    done = await only_request(bot)
    assert done.status is Status.APPROVED and done.approvals == (SECOND, THIRD)
    final = card_says(card)
    assert f"Approved* by <@{SECOND}> and <@{THIRD}>" in final
    assert "no longer counts" not in final, "only a waiting card says so"
    assert "approved" in all_text(dms_to(bot, REQUESTER)[-1])


async def test_two_approvers_clicking_at_once_after_the_removal_make_one_chime_call(
    bot: OfflineBot,
) -> None:
    card = await alice_approves_then_leaves_the_group(bot)

    exchanges = await asyncio.gather(
        *(
            bot.sender.click(card.current, "Approve", user_id=who, channel_id=card.channel)
            for who in [SECOND, THIRD] * 3
        )
    )
    await settle(bot)

    assert {e.status for e in exchanges} == {200}
    assert creates(bot) == 1
    request = await only_request(bot)
    assert request.status is Status.APPROVED
    assert sorted(request.approvals) == [SECOND, THIRD], "Alice's approval never counted"
    assert "no longer counts" not in card_says(card)


async def test_alice_alone_with_one_other_never_makes_two(bot: OfflineBot) -> None:
    """Alice's lapsed approval and one valid approver, clicking again and again at once: still
    one approval, nothing created."""
    card = await alice_approves_then_leaves_the_group(bot)

    await asyncio.gather(
        *(
            bot.sender.click(card.current, "Approve", user_id=who, channel_id=card.channel)
            for who in [SECOND, ALICE] * 3
        )
    )
    await settle(bot)

    assert creates(bot) == 0
    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (SECOND,)


async def test_when_slack_cannot_say_whether_it_still_counts_nothing_changes(
    bot: OfflineBot,
) -> None:
    note = await invite(bot, 'pair@example.com --account "Example Corp" two keys')
    assert "awaits approval" in note["text"]
    card = the_card(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    # The group's cache is dropped (a change event) and Slack then fails to list it.
    bot.slack.method_faults["usergroups.users.list"] = MethodFault(error="internal_error")
    assert (await bot.sender.event(bot.slack.change_members(GROUP, [ALICE]))).status == 200
    await settle(bot)

    (refusal,) = await click(bot, card, "Approve", SECOND)

    assert_valid_message(refusal)
    assert "Could not read the members of the approver group" in all_text(refusal)
    assert creates(bot) == 0
    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (ALICE,)
