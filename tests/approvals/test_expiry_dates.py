"""When a request expired is its deadline (`expires_at`), on every surface that says so: the
approval card (single and bulk), the note a late click gets, and the requester's Home tab.
Never the moment a sweep or a click happened to notice it, an hour later here.

End to end over signed HTTP with a virtual clock, as tests/approvals/test_reminders.py does.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Status
from tests.approvals.test_app_home import open_home
from tests.approvals.test_invite import APPROVERS, invite, settle
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.conftest import REQUESTER

TTL = 3600
LATE = 3600  # how long after the deadline the bot notices
SLACK_DATE = re.compile(r"<!date\^(\d+)\^")
EXPIRED_AT = re.compile(r"[Ee]xpired\*? <!date\^(\d+)\^")


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides = {"chime_approvers": ",".join(APPROVERS), "chime_request_ttl": TTL}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


def dates(text: str) -> set[int]:
    return {int(d) for d in SLACK_DATE.findall(text)}


def expired_at(message: dict[str, Any]) -> set[int]:
    """The dates a message gives for "expired" ("*Expired* <date>", "expired <date>")."""
    return {int(d) for d in EXPIRED_AT.findall(all_text(message))}


def cards(bot: OfflineBot) -> list[PostedMessage]:
    return [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


async def requests(bot: OfflineBot) -> dict[str, InviteRequest]:
    found: dict[str, InviteRequest] = {}
    for status in Status:
        found |= {r.email: r for r in await bot.runtime.store.list_by_status(status)}
    return found


async def test_an_expired_request_shows_its_deadline_never_when_it_was_noticed(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, 'swept@example.com --account "Example Corp"')
    await invite(bot, 'a@new.example.org b@new.example.org --account "Example Team"')
    clock.advance(60)
    await invite(bot, 'clicked@example.com --account "Example Corp"')
    swept_card, bulk_card, clicked_card = cards(bot)
    filed = await requests(bot)
    swept, clicked = filed["swept@example.com"], filed["clicked@example.com"]
    (lead,) = [r for r in filed.values() if r.batch_id == r.id]
    before = {m.ts: m.current for m in (swept_card, bulk_card, clicked_card)}
    # What the cards promised while open.
    assert int(swept.expires_at) in dates(all_text(swept_card.current))

    # The first two are noticed by the sweep an hour after their deadline...
    clock.advance(TTL - 60 + LATE)
    await bot.runtime.sweep_once()
    await settle(bot)
    # ...the third by a click an hour after its own (before any sweep).
    clock.advance(60)
    exchange = await bot.sender.click(
        before[clicked_card.ts], "Approve", user_id=DEMO_APPROVER, channel_id=DEMO_APPROVAL_CHANNEL
    )
    assert exchange.status == 200
    await settle(bot)
    now = int(clock.now())

    for card, request in ((swept_card, swept), (bulk_card, lead), (clicked_card, clicked)):
        assert_valid_message(card.current)
        assert "Expired" in all_text(card.current), card.current
        assert expired_at(card.current) == {int(request.expires_at)}, "the deadline"
        # Noticed at least an hour late (the bot's own paced sleeps move this clock on too,
        # so the moment it noticed is not known to the second; the deadline is).
        assert now >= int(request.expires_at) + LATE, "noticed an hour late"

    # A click on a card that has expired: the note says when, and it is the deadline.
    late = await bot.sender.click(
        before[swept_card.ts], "Deny", user_id="U0APPROVER2", channel_id=DEMO_APPROVAL_CHANNEL
    )
    await settle(bot)
    (note,) = bot.slack.responses[late.response_id]
    assert expired_at(note) == {int(swept.expires_at)}

    # The requester's Home tab: each request expired at its deadline.
    blocks = (await open_home(bot, REQUESTER))["blocks"]
    for request in (swept, lead, clicked):
        (at,) = [i for i, b in enumerate(blocks) if request.id in json.dumps(b)]
        where_it_stands = {"text": "", "blocks": [blocks[at + 1]]}  # the entry's second line
        assert expired_at(where_it_stands) == {int(request.expires_at)}


async def test_the_notes_of_an_expiry_give_the_deadline_too(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """The requester's note (single and bulk) and the note of the click that finds a request
    past its deadline: each says when it expired, and that is the deadline."""
    await invite(bot, 'swept@example.com --account "Example Corp"')
    await invite(bot, 'a@new.example.org b@new.example.org --account "Example Team"')
    await invite(bot, 'clicked@example.com --account "Example Corp"')
    _, _, clicked_card = cards(bot)
    filed = await requests(bot)
    swept, clicked = filed["swept@example.com"], filed["clicked@example.com"]
    (lead,) = [r for r in filed.values() if r.batch_id == r.id]
    assert len({swept.expires_at, lead.expires_at, clicked.expires_at}) == 1
    deadline = int(swept.expires_at)

    clock.advance(TTL + LATE)  # noticed an hour after the deadline
    exchange = await bot.sender.click(
        clicked_card.current, "Approve", user_id=DEMO_APPROVER, channel_id=DEMO_APPROVAL_CHANNEL
    )
    await settle(bot)
    (note,) = bot.slack.responses[exchange.response_id]
    assert_valid_message(note)
    assert expired_at(note) == {deadline}, all_text(note)
    await bot.runtime.sweep_once()
    await settle(bot)

    outcomes = [m.message for m in bot.slack.messages if m.channel == "D0REQUESTER"]
    expired = [m for m in outcomes if "expired" in all_text(m)]
    assert len(expired) == 3, [all_text(m) for m in outcomes]
    for message in expired:
        assert_valid_message(message)
        assert expired_at(message) == {deadline}, all_text(message)
    # The notes gave the deadline although they were sent an hour or more after it (the
    # bot's paced sleeps move the virtual clock on by a few seconds more).
    assert int(clock.now()) >= deadline + LATE
