"""Reminders and expiry notes, end to end over signed HTTP with a virtual clock.

Requests are filed with signed slash commands, decided with clicks built from the card the bot
posted, and time moves only when a test says so; each sweep is the one `serve` runs.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.approvals.reminders import LEASE, RETRY_AFTER, mention, mentions, reminder_note
from bot.config.settings import ConfigError, load_settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage, SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Status
from tests.blockkit import (
    all_text,
    assert_valid_message,
    card_layout,
    literal_problems,
    unescaped_angle_brackets,
)
from tests.cards.test_cards_literal import FAST, check, hostile, requests
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import CHANNEL, REQUESTER

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

APPROVERS = [DEMO_APPROVER, "U0APPROVER2", REQUESTER]  # the requester cannot decide their own
REMIND_AFTER = 4 * 3600.0
TTL = 24 * 3600


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def overrides(**more: object) -> dict[str, object]:
    return {"chime_approvers": ",".join(APPROVERS), "chime_request_ttl": TTL, **more}


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    async with offline_bot(overrides(), emulator=emulator, clock=clock) as running:
        yield running


async def file(bot: OfflineBot, email: str = "late@example.com") -> PostedMessage:
    """File an invite as the requester; returns the approval card the bot posted."""
    exchange = await bot.sender.command(
        f'invite {email} --account "Example Corp"', user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "awaits approval" in (await exchange.reply())["text"]
    (card,) = [
        m
        for m in bot.slack.messages
        if m.channel == DEMO_APPROVAL_CHANNEL and "thread_ts" not in m.message
        if email in all_text(m.message)
    ]
    return card


def thread(slack: SlackStandIn, card: PostedMessage) -> list[dict[str, Any]]:
    """The replies in the card's thread."""
    return [
        m.message
        for m in slack.messages
        if m.channel == card.channel and m.message.get("thread_ts") == card.ts
    ]


def thread_posts(slack: SlackStandIn) -> list[dict[str, Any]]:
    """Every chat.postMessage into a thread that reached Slack, refused or not."""
    return [
        c.args for c in slack.attempts if c.method == "chat.postMessage" and "thread_ts" in c.args
    ]


def dms_to(slack: SlackStandIn, user: str) -> list[dict[str, Any]]:
    return [m.message for m in slack.messages if m.channel == "D" + user.lstrip("UW")]


async def request_of(bot: OfflineBot, card: PostedMessage) -> InviteRequest:
    (request,) = [
        r
        for status in Status
        for r in await bot.runtime.store.list_by_status(status)
        if r.card_ts == card.ts
    ]
    return request


async def actions(bot: OfflineBot, card: PostedMessage) -> list[str]:
    request = await request_of(bot, card)
    return [e.action for e in await bot.runtime.store.audit_trail(request.id)]


# ---- one reminder, in the thread, to the approvers ------------------------------------------


async def test_a_request_left_pending_gets_exactly_one_reminder_in_its_card_thread(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    card = await file(bot)
    clock.advance(REMIND_AFTER - 1)
    await bot.runtime.sweep_once()
    assert thread(bot.slack, card) == [], "not before CHIME_REMIND_AFTER"

    clock.advance(1)
    await bot.runtime.sweep_once()
    (reminder,) = thread(bot.slack, card)
    assert_valid_message(reminder)
    assert not literal_problems(reminder)
    text = all_text(reminder)
    # Both approvers who can decide are mentioned; the requester, also listed, is not.
    assert f"<@{DEMO_APPROVER}> <@U0APPROVER2>" in reminder["blocks"][0]["text"]["text"]
    assert f"<@{DEMO_APPROVER}>" in reminder["text"] and f"<@{REQUESTER}>" not in text
    assert "late@example.com" in text and "still waiting for a decision" in text

    for _ in range(3):  # later sweeps, even long after, send nothing more
        clock.advance(LEASE + RETRY_AFTER)
        await bot.runtime.sweep_once()
    assert len(thread(bot.slack, card)) == 1
    assert (await request_of(bot, card)).status == Status.PENDING, "a reminder decides nothing"
    assert await actions(bot, card) == ["filed", "reminded"]
    assert bot.emulator is not None and bot.emulator.count("CreateUser") == 0


async def test_reminders_into_one_channel_are_posted_a_second_apart(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """One sweep's reminders all go to the approval channel, where Slack allows about one
    message a second (chat.postMessage's reference): they are paced on the bot's clock, which
    the stand-in stamps each post with, so no test waits on the wall clock."""
    bot.slack.use_clock(clock.monotonic)
    cards = [await file(bot, f"r{n}@example.com") for n in range(4)]
    clock.advance(REMIND_AFTER)
    await bot.runtime.sweep_once()
    reminders = [
        m
        for m in bot.slack.messages
        if m.channel == DEMO_APPROVAL_CHANNEL and "thread_ts" in m.message
    ]
    assert sorted(m.message["thread_ts"] for m in reminders) == sorted(c.ts for c in cards)
    times = [m.at for m in reminders]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times)), times


async def test_a_request_decided_before_the_reminder_time_gets_none(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    denied = await file(bot, "denied@example.com")
    waiting = await file(bot, "waiting@example.com")
    clock.advance(REMIND_AFTER - 60)
    exchange = await bot.sender.click(
        denied.current, "Deny", user_id=DEMO_APPROVER, channel_id=denied.channel
    )
    assert exchange.status == 200
    await bot.slack.wait_for(lambda: "Denied" in all_text(denied.current))

    clock.advance(120)
    await bot.runtime.sweep_once()

    assert thread(bot.slack, denied) == []
    assert len(thread(bot.slack, waiting)) == 1
    assert "reminded" not in await actions(bot, denied)


async def test_a_request_that_lapses_before_its_reminder_gets_none_and_its_requester_is_told(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    settings = overrides(chime_request_ttl=3600, chime_remind_after=7200)
    async with offline_bot(settings, emulator=emulator, clock=clock) as bot:
        card = await file(bot)
        clock.advance(7200)
        await bot.runtime.sweep_once()

        assert thread(bot.slack, card) == []
        (dm,) = dms_to(bot.slack, REQUESTER)
        assert "expired" in all_text(dm) and "late@example.com" in all_text(dm)
        assert await actions(bot, card) == ["filed", "expired"]


# ---- a reminder whose post fails is not lost ------------------------------------------------


@pytest.mark.parametrize("failure", ["refused", "slack_down"])
async def test_a_failed_reminder_is_released_and_sent_on_a_later_sweep(
    bot: OfflineBot, clock: VirtualClock, failure: str
) -> None:
    card = await file(bot)
    if failure == "refused":
        bot.slack.refuse_posts_to.add(DEMO_APPROVAL_CHANNEL)  # e.g. the bot was removed
    else:
        bot.slack.api_status = 503  # a proxy in front of Slack answers non-JSON 503s
    clock.advance(REMIND_AFTER)
    await bot.runtime.sweep_once()
    tried = len(thread_posts(bot.slack))
    assert tried >= 1 and thread(bot.slack, card) == []
    assert await actions(bot, card) == ["filed", "reminder_failed"]

    # Paced: sweeps before the retry time leave Slack alone.
    clock.advance(RETRY_AFTER - 1)
    await bot.runtime.sweep_once()
    assert len(thread_posts(bot.slack)) == tried

    bot.slack.refuse_posts_to.clear()
    bot.slack.api_status = None
    clock.advance(1)
    await bot.runtime.sweep_once()
    (reminder,) = thread(bot.slack, card)
    assert_valid_message(reminder)
    await bot.runtime.sweep_once()
    assert len(thread(bot.slack, card)) == 1
    assert await actions(bot, card) == ["filed", "reminder_failed", "reminded"]


async def test_a_reminder_failing_until_expiry_is_dropped_with_the_request(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    card = await file(bot)
    bot.slack.refuse_posts_to.add(DEMO_APPROVAL_CHANNEL)
    clock.advance(REMIND_AFTER)
    for _ in range(4):
        await bot.runtime.sweep_once()
        clock.advance(RETRY_AFTER)
    clock.advance(TTL)
    await bot.runtime.sweep_once()
    bot.slack.refuse_posts_to.clear()
    await bot.runtime.sweep_once()

    assert thread(bot.slack, card) == []
    trail = await actions(bot, card)
    assert trail == ["filed"] + ["reminder_failed"] * 4 + ["expired"]
    assert "expired" in all_text(dms_to(bot.slack, REQUESTER)[-1])


# ---- expiry tells the requester -------------------------------------------------------------


async def test_expiry_by_the_sweep_tells_the_requester_in_a_dm(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    card = await file(bot)
    clock.advance(TTL)
    await bot.runtime.sweep_once()

    (dm,) = dms_to(bot.slack, REQUESTER)
    assert_valid_message(dm)
    assert "expired" in all_text(dm) and "Nothing was created" in all_text(dm)
    assert "Expired" in all_text(card.current)
    await bot.runtime.sweep_once()
    assert len(dms_to(bot.slack, REQUESTER)) == 1, "told once"


async def test_expiry_falls_back_to_an_ephemeral_note_when_dms_are_refused(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await file(bot)
    bot.slack.refuse_dms_with.add(REQUESTER)
    clock.advance(TTL)
    await bot.runtime.sweep_once()

    assert dms_to(bot.slack, REQUESTER) == []
    (note,) = [m for m in bot.slack.messages if m.ephemeral_to == REQUESTER]
    assert note.channel == CHANNEL and "expired" in all_text(note.message)


# ---- several replicas ----------------------------------------------------------------------


async def test_two_replicas_on_one_dynamodb_table_send_one_reminder(
    emulator: ChimeEmulator, clock: VirtualClock, moto_dynamo: MotoDynamo, dynamo_table: str
) -> None:
    slack = SlackStandIn()
    await emulator.start()
    await slack.start()
    settings = overrides(
        chime_store_url=f"dynamodb://{dynamo_table}", aws_region="us-east-1", **TRUST_VIRTUAL_TIME
    )
    try:
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(
                    offline_bot(settings, emulator=emulator, clock=clock, slack=slack)
                )
                for _ in range(2)
            ]
            cards = [await file(a, "one@example.com"), await file(b, "two@example.com")]
            clock.advance(REMIND_AFTER)
            for _ in range(3):  # both replicas sweep at the same moment, three times over
                await asyncio.gather(a.runtime.sweep_once(), b.runtime.sweep_once())
            assert [len(thread(slack, card)) for card in cards] == [1, 1]
            for card in cards:
                assert (await actions(a, card)).count("reminded") == 1
    finally:
        await slack.stop()
        await emulator.stop()


# ---- the reminder's text --------------------------------------------------------------------


def test_mentions_take_users_and_user_groups_and_nothing_else() -> None:
    assert mention("U0ALICE") == "<@U0ALICE>" and mention("W0BOB") == "<@W0BOB>"
    assert mention("S0APPROVERS") == "<!subteam^S0APPROVERS>"
    for forged in ("<!channel>", "!here", "C0CHANNEL", "U0A|x", "S0A>x", "", "s0lower"):
        assert mention(forged) is None
    assert mentions(["U0ALICE", "<!everyone>", "S0GROUP"]) == "<@U0ALICE> <!subteam^S0GROUP>"


def sample(**changes: Any) -> InviteRequest:
    base = InviteRequest(
        id="REQ-ABCDEFGHIJ",
        email="ada@example.com",
        user_type="PrivateUser",
        reason="new hire",
        account_id="c0a1c0a1-5e3d-4b8a-9f21-000000000001",
        account_name="Example Corp",
        account_type="EnterpriseLWA",
        requester=REQUESTER,
        origin_channel=CHANNEL,
        created_at=1_790_000_000.0,
        expires_at=1_790_086_400.0,
        card_channel=DEMO_APPROVAL_CHANNEL,
        card_ts="1.000001",
    )
    return replace(base, **changes)


def test_a_group_approver_is_mentioned_as_a_group() -> None:
    note = reminder_note(sample(), ["S0APPROVERS", DEMO_APPROVER]).as_message()
    assert_valid_message(note)
    assert not unescaped_angle_brackets(note) and not literal_problems(note)
    assert "<!subteam^S0APPROVERS>" in note["text"]
    assert "<!subteam^S0APPROVERS>" in note["blocks"][0]["text"]["text"]


HOSTILE = [
    {"email": "a*b_c~d`e@example.com", "account_name": "<!channel> *Ops* <https://x.test|y>"},
    {"email": "x@example.com", "account_name": "Evil\u202eroC\n> quote &amp; <@U0BOSS>"},
    {"email": "y" * 64 + "@" + "z" * 180 + ".com", "account_name": "N" * 5000},
]


@pytest.mark.parametrize("data", HOSTILE)
def test_request_data_in_a_reminder_stays_literal(data: dict[str, str]) -> None:
    note = reminder_note(sample(**data), [DEMO_APPROVER]).as_message()
    assert_valid_message(note)
    assert not literal_problems(note)
    assert card_layout(note) == card_layout(reminder_note(sample(), [DEMO_APPROVER]).as_message())


@FAST
@given(
    requests,
    st.lists(st.one_of(st.sampled_from(["U0APPROVER", "W0APPROVER", "S0APPROVERS"]), hostile)),
)
def test_every_reminder_is_valid_and_shows_request_data_literally(
    request: InviteRequest, approvers: list[str]
) -> None:
    check(lambda r: reminder_note(r, approvers), request)


def test_a_reminder_to_very_many_approvers_fits_slack_and_cuts_no_mention() -> None:
    approvers = [f"U{i:010d}" for i in range(500)] + [f"S{i:010d}" for i in range(500)]
    note = reminder_note(sample(), approvers).as_message()
    assert_valid_message(note)
    assert not unescaped_angle_brackets(note)
    assert "and 900 more" in note["blocks"][0]["text"]["text"]
    assert note["text"].startswith("Reminder for <@U0000000000>")


def test_remind_after_is_validated_like_the_other_settings() -> None:
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ConfigError) as raised:
            load_settings("check", chime_remind_after=bad)
        assert "CHIME_REMIND_AFTER" in raised.value.render()
    assert load_settings("check").chime_remind_after == REMIND_AFTER
