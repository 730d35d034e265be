"""The two-person rule (CHIME_APPROVALS_REQUIRED=2), end to end over signed HTTP on both stores:
two different approvers, neither the requester, and exactly one Chime call however they click.

Clicks are built from the card the bot actually posted; the Chime side is the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.offline.demo_groups import (
    DEMO_APPROVER_GROUP,
    DEMO_GROUP_MEMBERS,
    define_groups,
    demo_approvers,
)
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import MethodFault, PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    BotProcess,
    OfflineBot,
    offline_bot,
)
from bot.store import DynamoStore, InviteRequest, Status
from tests.approvals.test_invite import click, dms_to, invite, only_request, settle, the_card
from tests.approvals.test_replicas import file_invite, replica_env, request_id
from tests.blockkit import all_text, assert_valid_message, literal_problems
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import REQUESTER

pytest_plugins = ("tests.dynamo",)
__all__ = ["replica_env"]  # a fixture, used by name

SECOND = "U0APPROVER2"
THIRD = "U0APPROVER3"
APPROVERS = [DEMO_APPROVER, SECOND, THIRD, REQUESTER]  # the requester may never count
TTL = 3600
REMIND_AFTER = 600


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_approvals_required": 2,
        "chime_request_ttl": TTL,
        "chime_remind_after": REMIND_AFTER,
    }
    if request.param == "dynamodb":
        table = request.getfixturevalue("dynamo_table")
        overrides.update(chime_store_url=f"dynamodb://{table}", aws_region="us-east-1")
        overrides.update(TRUST_VIRTUAL_TIME)
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def file_one(bot: OfflineBot, email: str = "pair@example.com") -> PostedMessage:
    note = await invite(bot, f'{email} --account "Example Corp" two keys')
    assert "awaits approval" in note["text"]
    return the_card(bot)


def creates(bot: OfflineBot) -> int:
    assert bot.emulator is not None
    return bot.emulator.count("CreateUser")


async def trail(bot: OfflineBot, request: InviteRequest) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in await bot.runtime.store.audit_trail(request.id)]


def card_says(card: PostedMessage) -> str:
    assert_valid_message(card.current)
    assert not literal_problems(card.current)
    return all_text(card.current)


async def test_two_different_approvers_then_one_chime_call(bot: OfflineBot) -> None:
    card = await file_one(bot)
    assert "0 of 2 approvals" in card_says(card)
    (_, approve), _ = buttons(card.current)
    assert "1 of 2" in approve["confirm"]["text"]["text"], "the first click creates nothing"

    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    assert creates(bot) == 0
    text = card_says(card)
    assert f"1 of 2 approvals* · approved by <@{DEMO_APPROVER}>" in text
    assert "One more approver needed" in text
    assert [b["text"]["text"] for _, b in buttons(card.current)] == ["Approve", "Deny"]
    (_, approve), _ = buttons(card.current)
    assert "once" in approve["confirm"]["text"]["text"], "the next approval is the real one"
    (progress,) = dms_to(bot, REQUESTER)
    assert "1 of 2 approvals" in all_text(progress) and "pair@example.com" in all_text(progress)

    assert await click(bot, card, "Approve", SECOND) == []
    assert creates(bot) == 1
    assert len(bot.emulator.find_users("pair@example.com")) == 1  # type: ignore[union-attr]
    final = card_says(card)
    assert f"Approved* by <@{DEMO_APPROVER}> and <@{SECOND}>" in final
    assert buttons(card.current) == []
    request = await only_request(bot)
    assert request.status is Status.APPROVED and request.approvals == (DEMO_APPROVER, SECOND)
    assert await trail(bot, request) == [
        ("filed", REQUESTER),
        ("approval_recorded", DEMO_APPROVER),
        ("approve_claimed", SECOND),
        ("approved", SECOND),
    ]
    progress, done = dms_to(bot, REQUESTER)
    assert "approved" in all_text(done) and f"<@{SECOND}>" in all_text(done)


async def test_the_same_approver_twice_counts_once_and_is_told_privately(
    bot: OfflineBot,
) -> None:
    card = await file_one(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []

    (note,) = await click(bot, card, "Approve", DEMO_APPROVER)

    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert_valid_message(note)
    assert "You already approved; one more approver needed" in all_text(note)
    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (DEMO_APPROVER,)
    assert creates(bot) == 0
    assert [a for a, _ in await trail(bot, request)] == ["filed", "approval_recorded"]


async def test_the_same_approver_double_clicking_at_once_counts_once(bot: OfflineBot) -> None:
    card = await file_one(bot)
    exchanges = await asyncio.gather(
        *(
            bot.sender.click(
                card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
            )
            for _ in range(4)
        )
    )
    await settle(bot)

    notes = [all_text(n) for e in exchanges for n in bot.slack.responses[e.response_id]]
    assert len(notes) == 3 and all("already approved" in n for n in notes), notes
    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (DEMO_APPROVER,)
    assert creates(bot) == 0


async def test_two_approvers_clicking_at_the_same_instant_make_one_chime_call(
    bot: OfflineBot,
) -> None:
    card = await file_one(bot)
    clickers = [DEMO_APPROVER, SECOND, THIRD] * 3
    exchanges = await asyncio.gather(
        *(
            bot.sender.click(card.current, "Approve", user_id=who, channel_id=card.channel)
            for who in clickers
        )
    )
    await settle(bot)

    assert {e.status for e in exchanges} == {200}
    assert creates(bot) == 1
    request = await only_request(bot)
    assert request.status is Status.APPROVED and len(set(request.approvals)) == 2
    actions = [a for a, _ in await trail(bot, request)]
    assert actions.count("approval_recorded") == 1 and actions.count("approve_claimed") == 1
    # Everyone who did not count was told why, privately.
    assert sum(len(bot.slack.responses[e.response_id]) for e in exchanges) == len(clickers) - 2


async def test_a_first_approval_whose_card_update_fails_still_counts_once(
    bot: OfflineBot,
) -> None:
    card = await file_one(bot)
    # Slack refuses the card update and the requester's DM after the approval is recorded.
    bot.slack.method_faults["chat.update"] = MethodFault(error="internal_error")
    bot.slack.refuse_dms_with.add(REQUESTER)
    notes = await click(bot, card, "Approve", DEMO_APPROVER)
    assert all("went wrong" not in all_text(n) for n in notes)
    assert "0 of 2 approvals" in card_says(card), "the card could not be updated"
    assert (await only_request(bot)).approvals == (DEMO_APPROVER,), "but the approval is kept"

    # The stale card still works: the first approver is told, the second one finishes it.
    (again,) = await click(bot, card, "Approve", DEMO_APPROVER)
    assert "already approved" in all_text(again)
    del bot.slack.method_faults["chat.update"]
    assert await click(bot, card, "Approve", SECOND) == []
    assert creates(bot) == 1 and "Created user" in card_says(card)


async def test_the_requester_is_never_one_of_the_two(bot: OfflineBot) -> None:
    card = await file_one(bot)

    (refused,) = await click(bot, card, "Approve", REQUESTER)
    assert "someone else" in all_text(refused)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    (refused,) = await click(bot, card, "Approve", REQUESTER)
    assert "someone else" in all_text(refused)

    request = await only_request(bot)
    assert request.status is Status.PENDING and request.approvals == (DEMO_APPROVER,)
    assert creates(bot) == 0


async def test_approve_then_deny_ends_it_with_nothing_created(bot: OfflineBot) -> None:
    card = await file_one(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []

    assert await click(bot, card, "Deny", SECOND) == []

    text = card_says(card)
    assert f"Denied* by <@{SECOND}>" in text and f"approval by <@{DEMO_APPROVER}>" in text
    assert buttons(card.current) == []
    (late,) = await click_old(bot, card, "Approve", THIRD)
    assert "already decided" in all_text(late)
    request = await only_request(bot)
    assert request.status is Status.DENIED and creates(bot) == 0
    assert "denied" in all_text(dms_to(bot, REQUESTER)[-1])


async def click_old(
    bot: OfflineBot, card: PostedMessage, label: str, user: str
) -> list[dict[str, Any]]:
    """Press a button on the card as it first was (a client that never saw the update)."""
    exchange = await bot.sender.click(card.message, label, user_id=user, channel_id=card.channel)
    await settle(bot)
    return bot.slack.responses[exchange.response_id]


async def test_the_first_approver_may_still_deny(bot: OfflineBot) -> None:
    card = await file_one(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    assert await click(bot, card, "Deny", DEMO_APPROVER) == []
    assert (await only_request(bot)).status is Status.DENIED and creates(bot) == 0


async def test_a_half_approved_request_expires_and_a_late_approval_creates_nothing(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    card = await file_one(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    clock.advance(TTL + 1)

    (note,) = await click(bot, card, "Approve", SECOND)

    assert "expired" in all_text(note)
    request = await only_request(bot)
    assert request.status is Status.EXPIRED and creates(bot) == 0
    assert "Expired" in card_says(card) and buttons(card.current) == []


async def test_a_half_approved_request_is_reminded_of_what_it_needs_then_expires(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    card = await file_one(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    clock.advance(REMIND_AFTER)

    await bot.runtime.sweep_once()

    (reminder,) = [m.message for m in bot.slack.messages if m.message.get("thread_ts") == card.ts]
    assert_valid_message(reminder)
    lead = reminder["blocks"][0]["text"]["text"]
    # Only those whose approval can still count are nudged.
    assert f"<@{SECOND}> <@{THIRD}>:" in lead
    assert f"<@{DEMO_APPROVER}>" not in lead and f"<@{REQUESTER}>" not in lead
    assert "It needs 1 more approval (1 of 2 so far)" in lead
    assert (await only_request(bot)).status is Status.PENDING

    clock.advance(TTL)
    await bot.runtime.sweep_once()

    request = await only_request(bot)
    assert request.status is Status.EXPIRED and creates(bot) == 0
    assert "Expired" in card_says(card) and buttons(card.current) == []
    assert "expired" in all_text(dms_to(bot, REQUESTER)[-1])
    assert [a for a, _ in await trail(bot, request)] == [
        "filed",
        "approval_recorded",
        "reminded",
        "expired",
    ]


async def test_a_group_approver_is_reminded_as_a_group_and_its_member_counts(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    slack = SlackStandIn()
    (group,) = define_groups(slack, [DEMO_APPROVER_GROUP])
    overrides = {
        "chime_approvers": demo_approvers(),
        "chime_approvals_required": 2,
        "chime_remind_after": REMIND_AFTER,
    }
    async with offline_bot(overrides, emulator=emulator, clock=clock, slack=slack) as bot:
        card = await file_one(bot)
        member = DEMO_GROUP_MEMBERS[0]
        assert await click(bot, card, "Approve", member) == []
        clock.advance(REMIND_AFTER)
        await bot.runtime.sweep_once()
        (reminder,) = [m.message for m in slack.messages if m.message.get("thread_ts") == card.ts]
        lead = reminder["blocks"][0]["text"]["text"]
        assert f"<@{DEMO_APPROVER}> <!subteam^{group}>:" in lead
        assert await click(bot, card, "Approve", DEMO_APPROVER) == []
        assert creates(bot) == 1
        assert (await only_request(bot)).approvals == (member, DEMO_APPROVER)


async def test_a_forged_value_cannot_lend_an_approval_to_another_request(
    bot: OfflineBot,
) -> None:
    await invite(bot, 'alpha@example.com --account "Example Corp"')
    await invite(bot, 'bravo@example.com --account "Example Corp"')
    a, b = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    target = str(buttons(b.current)[0][1]["value"])

    def name_b(payload: dict[str, Any]) -> None:
        for action in payload["actions"]:
            action["value"] = target

    for value_alter in (name_b, _value("REQ-AAAAAAAAAA"), _value("x" * 5000)):
        exchange = await bot.sender.click(
            a.current, "Approve", user_id=DEMO_APPROVER, channel_id=a.channel, alter=value_alter
        )
        assert exchange.status == 200
        await settle(bot)
        (note,) = bot.slack.responses[exchange.response_id]
        assert_valid_message(note)
    for request in await bot.runtime.store.list_by_status(Status.PENDING):
        assert request.approvals == (), "no forged click counted anywhere"
    assert creates(bot) == 0


def _value(value: str) -> Any:
    def alter(payload: dict[str, Any]) -> None:
        for action in payload["actions"]:
            action["value"] = value

    return alter


async def test_a_request_no_two_people_could_approve_is_not_filed(
    emulator: ChimeEmulator,
) -> None:
    overrides = {"chime_approvers": f"{DEMO_APPROVER},{REQUESTER}", "chime_approvals_required": 2}
    async with offline_bot(overrides, emulator=emulator) as bot:
        note = await invite(bot, 'lonely@example.com --account "Example Corp"')
        assert "Request not filed" in all_text(
            note
        ) and "needs 2 approvals from different people" in all_text(note)
        assert [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
        for status in Status:
            assert await bot.runtime.store.list_by_status(status) == []


async def test_hostile_request_text_stays_literal_on_a_half_approved_card(
    bot: OfflineBot,
) -> None:
    forged = "<!channel> *1 of 1 approvals* · approved by <@U0APPROVER2> `done`"
    await invite(bot, f'host@example.com --account "Example Corp" {forged}')
    card = the_card(bot)
    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    card_says(card)
    (progress,) = dms_to(bot, REQUESTER)
    assert_valid_message(progress)
    assert not literal_problems(progress)


# ---- two replicas, real processes, one DynamoDB table ---------------------------------------


async def test_two_approvers_at_once_on_two_replicas_make_one_chime_call(
    peers: tuple[ChimeEmulator, SlackStandIn],
    session: ClientSession,
    tmp_path: Path,
    replica_env: dict[str, str],
    dynamo_table: str,
) -> None:
    emulator, slack = peers
    env = {
        **replica_env,
        "CHIME_APPROVERS": ",".join(APPROVERS),
        "CHIME_APPROVALS_REQUIRED": "2",
    }
    running = [BotProcess(emulator.url, slack, tmp_path / "state.db", session, **env)]
    running.append(BotProcess(emulator.url, slack, tmp_path / "state.db", session, **env))
    try:
        a, b = await asyncio.gather(*(bot.start() for bot in running))
        card = await file_invite(a, slack, "replicas@example.com")
        # Each approver clicks on both replicas at once: four clicks, two people.
        clicks = await asyncio.gather(
            *(
                bot.sender.click(card.current, "Approve", user_id=who, channel_id=card.channel)
                for who in (DEMO_APPROVER, SECOND)
                for bot in (a, b)
            )
        )
        assert {c.status for c in clicks} == {200}
        await slack.wait_for(lambda: "Created user" in all_text(card.current), timeout=30)
        await slack.wait_for(
            lambda: sum(len(slack.responses[c.response_id]) for c in clicks) == 2, timeout=30
        )
        assert emulator.count("CreateUser") == 1
    finally:
        await asyncio.gather(*(bot.stop() for bot in running if bot.proc is not None))
    async with await DynamoStore.open(dynamo_table) as store:
        done = await store.get(request_id(card))
        assert done is not None
        actions = [e.action for e in await store.audit_trail(done.id)]
    assert (done.status, done.attempts, sorted(done.approvals)) == (
        Status.APPROVED,
        1,
        sorted([DEMO_APPROVER, SECOND]),
    )
    assert actions == ["filed", "approval_recorded", "approve_claimed", "approved"]
