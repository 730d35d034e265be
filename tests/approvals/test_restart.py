"""Nothing is lost across restarts, and a crash mid-execution is settled, never stranded.

These start `chime-bot serve` as real OS processes on one SQLite file, with the emulator and the
Slack stand-in running in the test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, BotProcess, offline_bot
from bot.store import AuditEvent, InviteRequest, Move, SqliteStore, Status
from tests.blockkit import all_text
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

# A lease as short as the settings allow, for processes that run on the real clock: a 0.5 s
# retry budget, a 2 s read (long enough for the kill to land first) and 3 s to connect.
SHORT_LEASE = {
    "CHIME_RETRY_BUDGET": "0.5",
    "CHIME_READ_TIMEOUT": "2",
    "CHIME_EXECUTION_LEASE": "6",
}


def card_in(slack: SlackStandIn) -> PostedMessage:
    (card,) = [m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    return card


async def request_in(path: Path, card: PostedMessage) -> InviteRequest:
    """The request behind an approval card, read from the store file as it is now."""
    request_id = buttons(card.message)[0][1]["value"]
    async with await SqliteStore.open(path) as store:
        request = await store.get(request_id)
    assert request is not None
    return request


async def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_restart_between_filing_and_approval_loses_nothing(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    first = await BotProcess(emulator.url, slack, store_path, session).start()
    exchange = await first.sender.command(
        'invite kept@example.com --account "Example Corp"', user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "awaits approval" in (await exchange.reply())["text"]
    assert await first.stop() == 0

    second = await BotProcess(emulator.url, slack, store_path, session).start()
    try:
        card = card_in(slack)
        click = await second.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        assert click.status == 200
        await slack.wait_for(lambda: "Created user" in str(card.current))
        assert emulator.count("CreateUser") == 1
        (user,) = emulator.find_users("kept@example.com")
        assert user["UserId"] in all_text(card.current)
    finally:
        await second.stop()


async def test_crash_mid_execution_is_reconciled_on_start_then_retried_once(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    doomed = await BotProcess(emulator.url, slack, store_path, session, **SHORT_LEASE).start()
    exchange = await doomed.sender.command(
        'invite crash@example.com --account "Example Corp"', user_id=REQUESTER, channel_id=CHANNEL
    )
    await exchange.reply()
    # CreateUser hangs long enough for the bot to be killed while it waits for Chime.
    emulator.set_latency(60.0, "CreateUser")
    card = card_in(slack)
    await doomed.sender.click(
        card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
    )

    async def claimed() -> bool:
        return (await request_in(store_path, card)).status == Status.APPROVING

    await until(claimed)
    await doomed.kill()
    emulator.set_latency(0.0, "CreateUser")
    assert emulator.find_users("crash@example.com") == []

    # A new process settles the stranded request once the lease is over: not in Chime, so it
    # failed.
    reborn = await BotProcess(
        emulator.url, slack, store_path, session, CHIME_SWEEP_INTERVAL="0.2", **SHORT_LEASE
    ).start()
    try:

        async def settled() -> bool:
            return (await request_in(store_path, card)).status == Status.FAILED

        await until(settled)
        await slack.wait_for(lambda: "Retry" in str(card.current))
        request = await request_in(store_path, card)
        assert "stopped before Chime confirmed" in (request.error or "")
        retry = await reborn.sender.click(
            card.current, "Retry", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        assert retry.status == 200
        await slack.wait_for(lambda: "Created user" in str(card.current))
        assert len(emulator.find_users("crash@example.com")) == 1
        assert buttons(card.current) == []
        actions = [e.action for e in await _trail(store_path, request.id)]
        assert actions == ["filed", "approve_claimed", "reconciled", "retry_claimed", "approved"]
    finally:
        await reborn.stop()


async def test_request_that_reached_chime_before_a_crash_is_marked_approved(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    """The other side of reconciliation: Chime has the user, so the request is done."""
    async with offline_bot({}, emulator=emulator, clock=clock) as bot:
        exchange = await bot.sender.command(
            'invite done@example.com --account "Example Corp"',
            user_id=REQUESTER,
            channel_id=CHANNEL,
        )
        await exchange.reply()
        (request,) = await bot.runtime.store.list_by_status(Status.PENDING)
        # The state a crash leaves behind: claimed, and the user created by Chime.
        claim = await bot.runtime.store.transition(
            request.id, Move.claim_approval(DEMO_APPROVER, request.created_at)
        )
        assert claim.ok
        created = emulator.add_user(
            "c0a1c0a1-5e3d-4b8a-9f21-000000000001", email="done@example.com"
        )
        clock.advance(bot.runtime.settings.chime_execution_lease + 1)
        assert await bot.runtime.deps.approvals.reconcile() == 1
        settled = await bot.runtime.store.get(request.id)
        assert settled is not None and settled.status == Status.APPROVED
        assert settled.result == {"user_id": created["UserId"], "reconciled": "true"}
        assert emulator.count("CreateUser") == 0
        card = card_in(bot.slack)
        assert "confirmed after an interrupted attempt" in all_text(card.current)


async def _trail(path: Path, request_id: str) -> list[AuditEvent]:
    async with await SqliteStore.open(path) as store:
        return await store.audit_trail(request_id)
