"""`/chime invite` and its approval flow, end to end over signed HTTP.

Button clicks are built from the approval card the bot actually posted to the Slack stand-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import PostedMessage, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Status
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

APPROVERS = [DEMO_APPROVER, "U0APPROVER2", "U0APPROVER3"]
ENTERPRISE = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides = {"chime_approvers": ",".join(APPROVERS), "chime_retry_budget": 2.0}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def invite(bot: OfflineBot, text: str, user: str = REQUESTER) -> dict[str, Any]:
    exchange = await bot.sender.command(f"invite {text}", user_id=user, channel_id=CHANNEL)
    assert exchange.status == 200 and exchange.ack is None
    note = await exchange.reply()
    assert_valid_message(note)
    assert not unescaped_angle_brackets(note)
    return note


def the_card(bot: OfflineBot) -> PostedMessage:
    cards = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    assert len(cards) == 1, f"expected one approval card, got {len(cards)}"
    return cards[0]


async def click(
    bot: OfflineBot, card: PostedMessage, label: str, user: str
) -> list[dict[str, Any]]:
    """Press a button as `user`; returns the private notes they got (if any) once it settles."""
    exchange = await bot.sender.click(card.current, label, user_id=user, channel_id=card.channel)
    assert exchange.status == 200
    await settle(bot)
    return bot.slack.responses[exchange.response_id]


async def settle(bot: OfflineBot) -> None:
    """Wait until the bot has no work in flight (every job sends its reply before ending)."""
    for _ in range(2000):
        if bot.runtime.jobs.in_flight == 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("bot did not settle")


async def only_request(bot: OfflineBot):  # type: ignore[no-untyped-def]
    requests = []
    for status in Status:
        requests += await bot.runtime.store.list_by_status(status)
    assert len(requests) == 1
    return requests[0]


def dms_to(bot: OfflineBot, user: str) -> list[dict[str, Any]]:
    channel = "D" + user.lstrip("UW")
    return [m.message for m in bot.slack.messages if m.channel == channel]


async def test_happy_path_files_approves_creates_once_and_tells_everyone(
    bot: OfflineBot,
) -> None:
    note = await invite(bot, 'new.hire@example.com --account "example corp" starts Monday')
    assert "awaits approval" in note["text"]
    assert f"<#{DEMO_APPROVAL_CHANNEL}>" in all_text(note)

    card = the_card(bot)
    assert_valid_message(card.message)
    text = all_text(card.message)
    for expected in (
        f"<@{REQUESTER}>",
        "starts Monday",
        "CreateUser",
        ENTERPRISE,
        "Example Corp",
        "new.hire@example.com",
        "PrivateUser",
    ):
        assert expected in text
    (_, approve), (_, deny) = buttons(card.message)
    assert approve["text"]["text"] == "Approve" and approve["style"] == "primary"
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    assert deny["text"]["text"] == "Deny" and deny["style"] == "danger"
    request = await only_request(bot)
    assert approve["value"] == request.id, "buttons carry only the request ID"
    assert request.card_ts == card.ts and request.card_channel == DEMO_APPROVAL_CHANNEL

    assert await click(bot, card, "Approve", DEMO_APPROVER) == []
    assert bot.emulator.count("CreateUser") == 1
    (created,) = bot.emulator.find_users("new.hire@example.com")

    final = card.current
    assert_valid_message(final)
    assert buttons(final) == [], "a decided card has no buttons"
    final_text = all_text(final)
    assert "Approved" in final_text and f"<@{DEMO_APPROVER}>" in final_text
    assert created["UserId"] in final_text

    (dm,) = dms_to(bot, REQUESTER)
    assert "approved" in dm["text"].lower() or "Approved" in all_text(dm)
    assert created["UserId"] in all_text(dm)

    actions = [e.action for e in await bot.runtime.store.audit_trail(request.id)]
    assert actions == ["filed", "approve_claimed", "approved"]

    lookup = await bot.sender.command(
        "user new.hire@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert created["UserId"] in all_text(await lookup.reply())


async def test_requester_cannot_approve_their_own_request(bot: OfflineBot) -> None:
    await invite(bot, 'self@example.com --account "Example Corp"', user=DEMO_APPROVER)
    card = the_card(bot)
    (note,) = await click(bot, card, "Approve", DEMO_APPROVER)
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert "someone else" in all_text(note)
    assert bot.emulator.count("CreateUser") == 0
    assert (await only_request(bot)).status == Status.PENDING
    assert buttons(card.current), "the card still offers the decision to others"


@pytest.mark.parametrize(
    ("approvers", "requester", "why"),
    [
        (DEMO_APPROVER, DEMO_APPROVER, "only approver"),
        ("", REQUESTER, "CHIME_APPROVERS is empty"),
    ],
    ids=["sole-approver-files", "no-approvers"],
)
async def test_request_no_one_could_approve_is_not_filed(
    emulator: ChimeEmulator, approvers: str, requester: str, why: str
) -> None:
    async with offline_bot({"chime_approvers": approvers}, emulator=emulator) as bot:
        exchange = await bot.sender.command(
            'invite solo@example.com --account "Example Corp"',
            user_id=requester,
            channel_id=CHANNEL,
        )
        assert exchange.status == 200 and exchange.ack is not None, "refused in the ack"
        assert_valid_message(exchange.ack)
        text = all_text(exchange.ack)
        assert "Request not filed" in text and why in text and "Nothing was filed" in text
        assert bot.slack.calls_to("chat.postMessage") == [], "no card"
        assert await bot.runtime.store.list_open(now=0) == []
        assert emulator.count("ListAccounts") == 0, "no Chime call"
        if approvers:  # anyone else may still file, and the sole approver decides
            await invite(bot, 'other@example.com --account "Example Corp"')
            assert len(bot.slack.calls_to("chat.postMessage")) == 1


async def test_non_approver_is_refused_privately(bot: OfflineBot) -> None:
    await invite(bot, 'who@example.com --account "Example Corp"')
    card = the_card(bot)
    for label in ("Approve", "Deny"):
        (note,) = await click(bot, card, label, "U0STRANGER")
        assert "CHIME_APPROVERS" in all_text(note)
    assert bot.emulator.count("CreateUser") == 0
    request = await only_request(bot)
    assert request.status == Status.PENDING
    refused = [e for e in await bot.runtime.store.audit_trail(request.id) if e.action == "refused"]
    assert [e.actor for e in refused] == ["U0STRANGER", "U0STRANGER"]


async def test_ten_concurrent_approvals_create_exactly_one_user(bot: OfflineBot) -> None:
    await invite(bot, 'race@example.com --account "Example Corp"')
    card = the_card(bot)
    message = card.current
    exchanges = await asyncio.gather(
        *[
            bot.sender.click(
                message,
                "Approve",
                user_id=APPROVERS[i % len(APPROVERS)],
                channel_id=card.channel,
                retry_num=1 if i == 9 else None,
            )
            for i in range(10)
        ]
    )
    assert {e.status for e in exchanges} == {200}
    await settle(bot)
    assert bot.emulator.count("CreateUser") == 1
    assert len(bot.emulator.find_users("race@example.com")) == 1
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.attempts == 1
    notes = [n for e in exchanges for n in bot.slack.responses[e.response_id]]
    assert len(notes) == 9, "every losing click is told privately"
    assert all(f"<@{request.decided_by}>" in all_text(n) for n in notes)


async def test_deny_updates_the_card_and_tells_the_requester(bot: OfflineBot) -> None:
    await invite(bot, 'nope@example.com --account "Example Corp"')
    card = the_card(bot)
    await click(bot, card, "Deny", DEMO_APPROVER)
    assert "Denied" in all_text(card.current) and buttons(card.current) == []
    assert (await only_request(bot)).status == Status.DENIED
    assert bot.emulator.count("CreateUser") == 0
    (dm,) = dms_to(bot, REQUESTER)
    assert "denied" in all_text(dm)
    stale_view = PostedMessage(card.channel, card.ts, card.message)  # still shows the buttons
    (late,) = await click(bot, stale_view, "Approve", "U0APPROVER2")
    assert f"<@{DEMO_APPROVER}>" in all_text(late) and "denied" in all_text(late)


async def test_team_account_goes_through_invite_users(bot: OfflineBot) -> None:
    await invite(bot, 'pat@example.org --account "Example Team" --type SharedDevice')
    card = the_card(bot)
    assert "InviteUsers" in all_text(card.message)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("InviteUsers") == 1
    assert bot.emulator.count("CreateUser") == 0
    invite_call = next(c for c in bot.emulator.calls if c.operation == "InviteUsers")
    assert invite_call.params["UserEmailList"] == ["pat@example.org"]
    assert invite_call.params["UserType"] == "SharedDevice"
    assert "Invitation sent: status Pending" in all_text(card.current)


async def test_existing_user_is_reported_and_nothing_filed(bot: OfflineBot) -> None:
    note = await invite(bot, 'ADA@example.com --account "Example Corp"')
    assert "already exists in Example Corp" in note["text"]
    assert bot.slack.calls_to("chat.postMessage") == []
    for status in Status:
        assert await bot.runtime.store.list_by_status(status) == []


async def test_duplicate_pending_request_points_to_the_first(bot: OfflineBot) -> None:
    await invite(bot, 'twice@example.com --account "Example Corp"')
    first = await only_request(bot)
    note = await invite(bot, 'Twice@Example.com --account "Example Corp"', user="U0OTHER")
    assert first.id in all_text(note) and "already has an open request" in all_text(note)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1


async def test_chime_failure_fails_then_retry_runs_exactly_once(bot: OfflineBot) -> None:
    await invite(bot, 'flaky@example.com --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.inject("CreateUser", Fault("ServiceUnavailableException", times=-1))
    await click(bot, card, "Approve", DEMO_APPROVER)
    request = await only_request(bot)
    assert request.status == Status.FAILED
    assert "ServiceUnavailableException" in (request.error or "")
    assert [b["text"]["text"] for _, b in buttons(card.current)] == ["Retry"]
    assert "Failed" in all_text(card.current)

    bot.emulator.clear_faults()
    bot.emulator.reset_calls()
    message = card.current
    exchanges = await asyncio.gather(
        *[
            bot.sender.click(message, "Retry", user_id=APPROVERS[i % 3], channel_id=card.channel)
            for i in range(10)
        ]
    )
    await settle(bot)
    assert {e.status for e in exchanges} == {200}
    assert bot.emulator.count("CreateUser") == 1
    assert len(bot.emulator.find_users("flaky@example.com")) == 1
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.attempts == 2
    notes = [n for e in exchanges for n in bot.slack.responses[e.response_id]]
    assert len(notes) == 9, "every losing Retry click is told privately"
    assert buttons(card.current) == [] and "Approved" in all_text(card.current)


async def test_expired_request_refuses_clicks_and_card_says_expired(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, 'late@example.com --account "Example Corp"')
    card = the_card(bot)
    card_before_expiry = PostedMessage(card.channel, card.ts, card.message)  # a stale copy
    clock.advance(bot.runtime.settings.chime_request_ttl + 1)
    (note,) = await click(bot, card, "Approve", DEMO_APPROVER)
    assert "expired" in all_text(note)
    assert bot.emulator.count("CreateUser") == 0
    assert (await only_request(bot)).status == Status.EXPIRED
    assert "Expired" in all_text(card.current) and buttons(card.current) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert "expired" in all_text(dm)
    (again,) = await click(bot, card_before_expiry, "Deny", "U0APPROVER2")
    again_text = all_text(again)
    assert "expired" in again_text and "without a decision" in again_text
    assert "nobody" not in again_text and " by " not in again_text


async def test_pending_lists_open_requests_for_approvers_only(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, 'one@example.com --account "Example Corp"')
    clock.advance(7200)
    await invite(bot, 'two@example.com --account "Example Corp"', user="U0SECOND")
    listing = await bot.sender.command("pending", user_id=DEMO_APPROVER, channel_id=CHANNEL)
    text = all_text(await listing.reply())
    assert "one@example.com" in text and "two@example.com" in text
    assert "2 h 0 min ago" in text and f"<@{REQUESTER}>" in text
    refused = await bot.sender.command("pending", user_id=REQUESTER, channel_id=CHANNEL)
    assert refused.ack is not None and "Approvers only" in refused.ack["text"]


async def test_unknown_and_ambiguous_accounts_list_candidates(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    emulator.add_account(name="Example corp", account_type="EnterpriseLWA")
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, "x@example.com --account Nowhere")
        assert "No Chime account is named" in all_text(note)
        assert "Example Team" in all_text(note)
        note = await invite(bot, 'x@example.com --account "example CORP"')
        assert "More than one account" in all_text(note)
        note = await invite(bot, "x@example.com")
        assert "--account" in all_text(note), "several accounts and no default: say which"
        assert bot.slack.calls_to("chat.postMessage") == []


async def test_default_account_by_name_or_id(emulator: ChimeEmulator, clock: VirtualClock) -> None:
    emulator.add_account(name="Example Sales", account_id="5a1e5000-5e3d-4b8a-9f21-000000000009")
    for default in ("example sales", "5a1e5000-5e3d-4b8a-9f21-000000000009"):
        async with offline_bot(
            {"chime_default_account": default}, emulator=emulator, clock=clock
        ) as bot:
            await invite(bot, f"d{len(default)}@example.net")
            assert "Example Sales" in all_text(the_card(bot).message)


async def test_card_slack_refuses_means_nothing_is_left_filed(bot: OfflineBot) -> None:
    bot.slack.refuse_posts_to.add(DEMO_APPROVAL_CHANNEL)
    note = await invite(bot, 'stuck@example.com --account "Example Corp"')
    assert "Request not filed" in note["text"] and "not_in_channel" in all_text(note)
    request = await only_request(bot)
    assert request.status == Status.DENIED and request.decided_by == "system"
    assert await bot.runtime.deps.approvals.open_requests() == []
    bot.slack.refuse_posts_to.clear()
    again = await invite(bot, 'stuck@example.com --account "Example Corp"')
    assert "awaits approval" in again["text"], "a withdrawn request does not block a new one"


async def test_requester_without_dms_is_told_in_the_request_channel(bot: OfflineBot) -> None:
    bot.slack.refuse_dms_with.add(REQUESTER)
    await invite(bot, 'nodm@example.com --account "Example Corp"')
    await click(bot, the_card(bot), "Deny", DEMO_APPROVER)
    assert dms_to(bot, REQUESTER) == []
    (note,) = [m for m in bot.slack.messages if m.ephemeral_to == REQUESTER]
    assert note.channel == CHANNEL and "denied" in all_text(note.message)
