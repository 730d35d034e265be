"""A button counts only on its own card: clicks forged to name another request, or sent from
another channel or message, change nothing and are recorded. Over signed HTTP, with payloads
built from the buttons the bot posted and then altered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Status
from tests.approvals.test_invite import invite, settle
from tests.blockkit import all_text, assert_valid_message
from tests.conftest import CHANNEL, REQUESTER

Alter = Callable[[dict[str, Any]], None]


@pytest.fixture
async def bot(emulator: ChimeEmulator) -> AsyncIterator[OfflineBot]:
    async with offline_bot(emulator=emulator) as running:
        yield running


async def two_cards(bot: OfflineBot) -> tuple[PostedMessage, PostedMessage]:
    await invite(bot, 'alpha@example.com --account "Example Corp"')
    await invite(bot, 'bravo@example.com --account "Example Corp"')
    a, b = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    return a, b


async def request_on(bot: OfflineBot, card: PostedMessage) -> InviteRequest:
    for request in await bot.runtime.store.list_by_status(Status.PENDING):
        if request.card_ts == card.ts:
            return request
    raise AssertionError("no pending request for that card")


def name_request(request_id: str) -> Alter:
    """Point every action in the payload at another request."""

    def alter(payload: dict[str, Any]) -> None:
        for action in payload["actions"]:
            action["value"] = request_id

    return alter


def move_to(channel: str | None = None, ts: str | None = None) -> Alter:
    """Claim the click came from another channel and/or message, consistently."""

    def alter(payload: dict[str, Any]) -> None:
        if channel is not None:
            payload["container"]["channel_id"] = channel
            payload["channel"] = {"id": channel, "name": channel.lower()}
        if ts is not None:
            payload["container"]["message_ts"] = ts
            payload["message"]["ts"] = ts

    return alter


def as_view(payload: dict[str, Any]) -> None:
    """A click from an App Home or modal: a `view` container, no channel or message."""
    payload["container"] = {"type": "view", "view_id": "V0FORGED"}
    payload.pop("channel")
    payload.pop("message")


def both(*alters: Alter) -> Alter:
    def alter(payload: dict[str, Any]) -> None:
        for each in alters:
            each(payload)

    return alter


async def forge(
    bot: OfflineBot, card: PostedMessage, label: str, alter: Alter, channel: str | None = None
) -> dict[str, Any]:
    exchange = await bot.sender.click(
        card.current,
        label,
        user_id=DEMO_APPROVER,
        channel_id=channel or card.channel,
        alter=alter,
    )
    assert exchange.status == 200
    await settle(bot)
    (note,) = bot.slack.responses[exchange.response_id]
    assert_valid_message(note)
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    return note


@pytest.mark.parametrize(
    "label,how",
    [
        ("Approve", "A's card, value naming B"),
        ("Deny", "A's card, value naming B"),
        ("Approve", "B's card, from another channel"),
        ("Approve", "B's card, another message ts"),
        ("Approve", "B's card, channel and ts of A's card, value naming B"),
        ("Approve", "B's card, container and channel disagree"),
        ("Approve", "B's card, from a view"),
    ],
)
async def test_forged_click_leaves_the_named_request_untouched(
    bot: OfflineBot, label: str, how: str
) -> None:
    a, b = await two_cards(bot)
    target = await request_on(bot, b)
    b_card_before = b.current
    alters: dict[str, tuple[PostedMessage, Alter, str | None]] = {
        "A's card, value naming B": (a, name_request(target.id), None),
        "B's card, from another channel": (b, move_to(channel=CHANNEL), CHANNEL),
        "B's card, another message ts": (b, move_to(ts=a.ts), None),
        "B's card, channel and ts of A's card, value naming B": (
            a,
            both(name_request(target.id), move_to(channel=a.channel, ts=a.ts)),
            None,
        ),
        "B's card, container and channel disagree": (
            b,
            lambda p: p["channel"].update(id=CHANNEL),
            None,
        ),
        "B's card, from a view": (b, as_view, None),
    }
    card, alter, channel = alters[how]
    note = await forge(bot, card, label, alter, channel)

    assert "only on its own approval card" in all_text(note)
    assert target.id in all_text(note)
    after = await bot.runtime.store.get(target.id)
    assert after is not None and after.status == Status.PENDING and after.decided_by is None
    assert bot.emulator.count("CreateUser") == 0
    assert b.current == b_card_before, "B's card is not updated"
    assert bot.slack.calls_to("chat.update") == []
    trail = await bot.runtime.store.audit_trail(target.id)
    assert [e.action for e in trail] == ["filed", "refused"]
    refused = trail[-1]
    assert refused.actor == DEMO_APPROVER
    assert refused.detail["action"] == ("chime_approve" if label == "Approve" else "chime_deny")
    # A's request is untouched too: the forgery named B, on A's card.
    assert (await request_on(bot, a)).status == Status.PENDING


async def test_after_forgeries_the_real_card_still_decides(bot: OfflineBot) -> None:
    a, b = await two_cards(bot)
    target = await request_on(bot, b)
    await forge(bot, a, "Approve", name_request(target.id))
    await forge(bot, b, "Approve", move_to(channel=CHANNEL), CHANNEL)

    exchange = await bot.sender.click(
        b.current, "Approve", user_id=DEMO_APPROVER, channel_id=b.channel
    )
    assert exchange.status == 200
    await settle(bot)
    assert bot.slack.responses[exchange.response_id] == []
    done = await bot.runtime.store.get(target.id)
    assert done is not None and done.status == Status.APPROVED
    assert bot.emulator.count("CreateUser") == 1
    assert bot.emulator.find_users("bravo@example.com")
    assert not bot.emulator.find_users("alpha@example.com")
    actions = [e.action for e in await bot.runtime.store.audit_trail(target.id)]
    assert actions == ["filed", "refused", "refused", "approve_claimed", "approved"]


async def test_forged_click_is_checked_before_who_clicked(bot: OfflineBot) -> None:
    """The requester's own forged click is refused for its surface (and still changes nothing),
    whatever the approver rules would have said."""
    a, b = await two_cards(bot)
    target = await request_on(bot, b)
    exchange = await bot.sender.click(
        a.current, "Approve", user_id=REQUESTER, channel_id=a.channel, alter=name_request(target.id)
    )
    await settle(bot)
    (note,) = bot.slack.responses[exchange.response_id]
    assert "only on its own approval card" in all_text(note)
    assert (await bot.runtime.store.get(target.id)).status == Status.PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value", ["REQ-NOSUCHTHNG", "x" * 100_000, "", "../../etc", "REQ-abcdefghij"]
)
async def test_a_click_naming_no_request_is_told_so(bot: OfflineBot, value: str) -> None:
    a, _ = await two_cards(bot)
    note = await forge(bot, a, "Approve", name_request(value))
    assert "Request not found" in all_text(note)
    assert len(all_text(note)) < 1000, "the forged value is not echoed at length"
    assert bot.slack.calls_to("chat.update") == []
    for request in await bot.runtime.store.list_by_status(Status.PENDING):
        assert [e.action for e in await bot.runtime.store.audit_trail(request.id)] == ["filed"]
