"""Offboarding (issue 21): a Slack user deactivated, as Slack tells it (the `user_change` event
of docs.slack.dev/reference/events/user_change, signed, over HTTP), suspends their Chime user as
CHIME_OFFBOARDING says: nothing (`off`), a suspension request for the account's approvers with
its card in the approval channel (`request`), or a suspension at once with a card saying so
(`suspend`); once however often Slack sends it, and never for a user Chime does not have or a
directory manages. The store is SQLite or DynamoDB on moto where it is involved; Chime is the
emulator over HTTP.

Seed users (bot/offline/emulator/seed.json): edsger@example.com is in Example Corp
(EnterpriseLWA), linus@example.org in Example Team (Team), ken@example.net in Example Labs
(EnterpriseOIDC, directory-linked).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.emulator.controls import STALL, Fault
from bot.offline.slack_standin import SlackStandIn, buttons
from bot.offline.standin_people import Person
from bot.offline.wiring import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    BotProcess,
    OfflineBot,
    offline_bot,
)
from bot.store import Change, InviteRequest, Status
from bot.store.model import SYSTEM
from tests.approvals.test_invite import APPROVERS, click, settle
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock

pytest_plugins = ("tests.dynamo",)

EDSGER = "a0000000-5e3d-4b8a-9f21-000000000006"
CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
LEAVER = "U0EDSGER"  # edsger@example.com in Slack
WRITES = ("BatchSuspendUser", "BatchUnsuspendUser", "LogoutUser", "ResetPersonalPIN", "UpdateUser")

BotFor = Callable[..., AbstractAsyncContextManager[OfflineBot]]


@pytest.fixture(params=["sqlite", "dynamodb"])
def bot_for(request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock) -> BotFor:
    """A bot with CHIME_OFFBOARDING set as the test says, on each store."""
    store: dict[str, object] = {}
    if request.param == "dynamodb":
        store["chime_store_url"] = f"dynamodb://{request.getfixturevalue('dynamo_table')}"
        store.update(TRUST_VIRTUAL_TIME)

    def start(mode: str, **overrides: object) -> AbstractAsyncContextManager[OfflineBot]:
        chosen: dict[str, object] = {
            "chime_approvers": ",".join(APPROVERS),
            "chime_retry_budget": 2.0,
            "chime_offboarding": mode,
            **store,
            **overrides,
        }
        return offline_bot(chosen, emulator=emulator, clock=clock)

    return start


@pytest.fixture
async def sqlite_bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[BotFor]:
    """The same, on SQLite only, for what does not reach the store."""

    def start(mode: str, **overrides: object) -> AbstractAsyncContextManager[OfflineBot]:
        chosen = {"chime_approvers": ",".join(APPROVERS), "chime_offboarding": mode, **overrides}
        return offline_bot(chosen, emulator=emulator, clock=clock)

    yield start


def person(bot: OfflineBot, user: str, email: str | None, name: str = "Edsger Dijkstra") -> None:
    bot.slack.people.by_id[user] = Person(email, name)


async def deactivate(
    bot: OfflineBot, user: str = LEAVER, *, body: dict[str, Any] | None = None, retry: int = 0
) -> dict[str, Any]:
    """An admin deactivates `user`; Slack's event, signed, delivered and acked; the bot's work
    after the ack settled. Returns the body sent (to send it again)."""
    sent = body if body is not None else bot.slack.deactivate(user)
    exchange = await bot.sender.event(sent, retry_num=retry or None)
    assert exchange.status == 200
    await settle(bot)
    return sent


async def every_request(bot: OfflineBot) -> list[InviteRequest]:
    found: list[InviteRequest] = []
    for status in Status:
        found += await bot.runtime.store.list_by_status(status)
    return found


def in_approval_channel(bot: OfflineBot) -> list[Any]:
    return [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


def chime_writes(bot: OfflineBot) -> int:
    assert bot.emulator is not None
    return sum(bot.emulator.count(op) for op in WRITES)


def status_of(bot: OfflineBot, email: str) -> list[str]:
    assert bot.emulator is not None
    return [str(u.get("UserRegistrationStatus")) for u in bot.emulator.find_users(email)]


# ---- off -------------------------------------------------------------------------------------


async def test_off_does_nothing_but_a_debug_line(
    sqlite_bot: BotFor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chime_bot")
    async with sqlite_bot("off") as bot:
        person(bot, LEAVER, "edsger@example.com")
        await deactivate(bot)
        assert await every_request(bot) == []
        assert in_approval_channel(bot) == []
        assert bot.emulator is not None and bot.emulator.count() == 0, "Chime not even asked"
    lines = [r for r in caplog.records if LEAVER in r.getMessage()]
    assert lines and all(r.levelno == logging.DEBUG for r in lines), lines
    assert "offboarding is off" in lines[0].getMessage()


# ---- request ---------------------------------------------------------------------------------


async def test_request_files_a_suspension_for_the_accounts_approvers_with_its_card(
    bot_for: BotFor,
) -> None:
    async with bot_for("request") as bot:
        person(bot, LEAVER, "edsger@example.com")
        await deactivate(bot)
        (request,) = await every_request(bot)
        assert request.change == Change.SUSPEND and request.status == Status.PENDING
        assert request.requester == SYSTEM and request.account_id == CORP
        assert request.params["user_id"] == EDSGER
        (card,) = in_approval_channel(bot)
        assert_valid_message(card.message)
        assert not unescaped_angle_brackets(card.message)
        text = all_text(card.message)
        assert "chime-bot asks to suspend" in text and "edsger@example.com" in text
        assert f"Slack user {LEAVER} was deactivated" in text
        assert "BatchSuspendUser" in text and chime_writes(bot) == 0, "nothing before approval"
        trail = await bot.runtime.store.audit_trail(request.id)
        assert [(e.action, e.actor) for e in trail] == [("filed", SYSTEM)]
        assert "deactivated" in trail[0].detail["reason"]

        await click(bot, card, "Approve", DEMO_APPROVER)
        (call,) = [c for c in bot.emulator.calls if c.operation == "BatchSuspendUser"]  # type: ignore[union-attr]
        assert call.params["UserIdList"] == [EDSGER]
        assert status_of(bot, "edsger@example.com") == ["Suspended"]
        assert "Suspended and signed out" in all_text(card.current)
        # The bot filed it: there is no one to send the outcome to.
        assert not [c for c in bot.slack.calls_to("conversations.open") if "system" in str(c.args)]


async def test_a_retried_or_repeated_event_files_one_request(bot_for: BotFor) -> None:
    async with bot_for("request") as bot:
        person(bot, LEAVER, "edsger@example.com")
        sent = await deactivate(bot)
        await deactivate(bot, body=sent, retry=1)  # Slack's retry: the same body again
        await deactivate(bot, body=bot.slack.deactivate(LEAVER))  # the same user_change again
        (request,) = await every_request(bot)
        assert request.status == Status.PENDING
        assert len(in_approval_channel(bot)) == 1
        assert chime_writes(bot) == 0


async def test_request_files_nothing_when_no_one_could_approve(
    bot_for: BotFor, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_for("request", chime_approvers="") as bot:
        person(bot, LEAVER, "edsger@example.com")
        await deactivate(bot)
        assert await every_request(bot) == []
        assert in_approval_channel(bot) == []
        assert chime_writes(bot) == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        LEAVER in r.getMessage() and "No one could approve" in r.getMessage() for r in warnings
    )


# ---- suspend ---------------------------------------------------------------------------------


async def test_suspend_suspends_at_once_audited_as_the_bot_and_says_so_in_the_channel(
    bot_for: BotFor,
) -> None:
    async with bot_for("suspend") as bot:
        person(bot, LEAVER, "edsger@example.com")
        await deactivate(bot)
        (call,) = [c for c in bot.emulator.calls if c.operation == "BatchSuspendUser"]  # type: ignore[union-attr]
        assert call.params["UserIdList"] == [EDSGER]
        assert status_of(bot, "edsger@example.com") == ["Suspended"]
        (request,) = await every_request(bot)
        assert request.status == Status.APPROVED and request.decided_by == SYSTEM
        trail = await bot.runtime.store.audit_trail(request.id)
        assert [(e.action, e.actor) for e in trail] == [
            ("filed", SYSTEM),
            ("ran_without_approval", SYSTEM),
            ("approved", SYSTEM),
        ]
        assert f"Slack user {LEAVER} was deactivated" in trail[0].detail["reason"]
        (card,) = in_approval_channel(bot)
        assert_valid_message(card.current)
        text = all_text(card.current)
        assert "Suspended and signed out" in text and "edsger@example.com" in text
        assert "was deactivated" in text and buttons(card.current) == []
        assert (card.channel, card.ts) == (request.card_channel, request.card_ts)


async def test_the_same_deactivation_twice_suspends_once(bot_for: BotFor) -> None:
    async with bot_for("suspend") as bot:
        person(bot, LEAVER, "edsger@example.com")
        body = bot.slack.deactivate(LEAVER)
        # Delivered twice at once (a retry racing the first), then once more afterwards.
        results = await asyncio.gather(bot.sender.event(body), bot.sender.event(body, retry_num=1))
        assert [r.status for r in results] == [200, 200]
        await settle(bot)
        await deactivate(bot, body=bot.slack.deactivate(LEAVER))
        assert bot.emulator is not None and bot.emulator.count("BatchSuspendUser") == 1
        # A delivery that filed after the first had run withdrew its own, unrun and unseen.
        requests = await every_request(bot)
        (done,) = [r for r in requests if r.status == Status.APPROVED]
        assert all(r.status == Status.DENIED and r.attempts == 0 for r in requests if r != done)
        assert len(in_approval_channel(bot)) == 1


async def test_a_team_user_suspended_is_gone_so_a_second_event_does_nothing(
    bot_for: BotFor,
) -> None:
    async with bot_for("suspend") as bot:
        person(bot, "U0LINUS", "linus@example.org", "Linus Torvalds")
        await deactivate(bot, "U0LINUS")
        assert status_of(bot, "linus@example.org") == [], "removed from the Team account"
        await deactivate(bot, body=bot.slack.deactivate("U0LINUS"))
        assert bot.emulator is not None and bot.emulator.count("BatchSuspendUser") == 1
        (request,) = await every_request(bot)
        assert request.status == Status.APPROVED


# ---- nothing to do ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["request", "suspend"])
async def test_no_chime_user_or_no_email_files_nothing_and_writes_nothing(
    bot_for: BotFor, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chime_bot")
    async with bot_for(mode) as bot:
        person(bot, "U0STRANGER", "nobody@example.com", "No Body")
        await deactivate(bot, "U0STRANGER")
        person(bot, "U0HIDDEN", None, "Hidden Address")
        await deactivate(bot, "U0HIDDEN")
        # Without users:read.email the event carries no address, whoever it is.
        bot.slack.scopes = tuple(s for s in bot.slack.scopes or () if s != "users:read.email")
        await deactivate(bot)
        assert await every_request(bot) == []
        assert in_approval_channel(bot) == []
        assert chime_writes(bot) == 0
    ours = [r for r in caplog.records if r.name == "chime_bot.offboarding"]
    assert len(ours) == 3, [r.getMessage() for r in ours]
    assert all(r.levelno == logging.DEBUG for r in ours), [r.getMessage() for r in ours]


@pytest.mark.parametrize("mode", ["request", "suspend"])
async def test_a_directory_account_is_left_to_the_directory_with_a_note(
    sqlite_bot: BotFor, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with sqlite_bot(mode) as bot:
        person(bot, "U0KEN", "ken@example.net", "Ken Thompson")
        await deactivate(bot, "U0KEN")
        assert await every_request(bot) == []
        assert chime_writes(bot) == 0
        (note,) = in_approval_channel(bot)
        assert_valid_message(note.message)
        text = all_text(note.message)
        assert "ken@example.net" in text and "Example Labs" in text and "EnterpriseOIDC" in text
        assert "directory" in text and "<@U0KEN>" in text
    assert any(
        r.levelno == logging.WARNING and "U0KEN" in r.getMessage() and "directory" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    "alter",
    [
        lambda e: e.pop("user"),
        lambda e: e.update(user="U0EDSGER"),
        lambda e: e["user"].update(deleted="true"),
        lambda e: e["user"].update(deleted=1),
        lambda e: e["user"].pop("deleted"),
        lambda e: e["user"].update(id="<!channel>"),
        lambda e: e["user"].update(deleted=False),  # a profile edit
    ],
    ids=["no-user", "user-string", "deleted-string", "deleted-int", "no-deleted", "bad-id", "edit"],
)
async def test_a_user_change_of_another_shape_is_acked_and_does_nothing(
    sqlite_bot: BotFor, alter: Callable[[dict[str, Any]], None]
) -> None:
    async with sqlite_bot("suspend") as bot:
        person(bot, LEAVER, "edsger@example.com")
        body = bot.slack.deactivate(LEAVER)
        alter(body["event"])
        exchange = await bot.sender.event(body)
        assert exchange.status == 200
        await settle(bot)
        assert await every_request(bot) == []
        assert in_approval_channel(bot) == []
        assert bot.emulator is not None and bot.emulator.count() == 0
        # The same deactivation, well formed, is acted on: it was the shape that was ignored.
        await deactivate(bot)
        assert bot.emulator.count("BatchSuspendUser") == 1


async def test_the_event_is_acked_before_chime_is_done(sqlite_bot: BotFor) -> None:
    async with sqlite_bot("suspend", chime_lookup_budget=1.0) as bot:
        person(bot, LEAVER, "edsger@example.com")
        assert bot.emulator is not None
        bot.emulator.inject("ListAccounts", Fault(STALL, times=-1, hold=0.5))
        exchange = await bot.sender.event(bot.slack.deactivate(LEAVER))
        assert exchange.status == 200
        assert bot.runtime.jobs.in_flight == 1, "the work runs after the ack"
        await settle(bot)
        assert chime_writes(bot) == 0 and await every_request(bot) == []


async def test_socket_mode_offboards_too(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    """Over Socket Mode the event reaches the listener without the HTTP door's rebuilding: the
    same deactivation suspends once, and another shape does nothing."""
    emulator, slack = peers
    slack.people.by_id[LEAVER] = Person("edsger@example.com", "Edsger Dijkstra")
    bot = await BotProcess(
        emulator.url,
        slack,
        tmp_path / "state.db",
        session,
        SLACK_APP_TOKEN="xapp-1-A0CHIMEBOT-socket",
        CHIME_APPROVERS=",".join(APPROVERS),
        CHIME_OFFBOARDING="suspend",
    ).start()
    try:
        await slack.wait_connected()
        odd = slack.deactivate(LEAVER)
        odd["event"]["user"]["deleted"] = "true"
        assert "envelope_id" in await bot.sender.socket_event(odd)
        body = slack.deactivate(LEAVER)
        for _ in range(2):
            assert "envelope_id" in await bot.sender.socket_event(body)
        await slack.wait_for(
            lambda: any(m.channel == DEMO_APPROVAL_CHANNEL for m in slack.messages)
        )
        assert emulator.count("BatchSuspendUser") == 1
        assert [
            str(u.get("UserRegistrationStatus")) for u in emulator.find_users("edsger@example.com")
        ] == ["Suspended"]
        assert "Traceback" not in bot.log()
    finally:
        await bot.stop()
