"""A bulk invite's messages are sent once, however many replicas moved its addresses (issue 24,
item 1): one card update and one note when it expires, one note when it is settled.

Each test runs two or three bots sharing one store (a SQLite file, or one DynamoDB table on
moto's server), one Slack stand-in and one Chime emulator, and lets them work at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot
from bot.store import Move, Status
from tests.approvals.one_store import bots_on, one_store
from tests.approvals.test_bulk_invite import CORP, addresses, every_request
from tests.approvals.test_invite import APPROVERS, dms_to, invite, settle
from tests.blockkit import all_text
from tests.clock import VirtualClock
from tests.conftest import REQUESTER

pytest_plugins = ("tests.dynamo",)

LEASE = 60.0
TTL = 3600

Replicas = Callable[[int], AbstractAsyncContextManager[list[OfflineBot]]]


@pytest.fixture(params=["sqlite", "dynamodb"])
def replicas(
    request: pytest.FixtureRequest,
    emulator: ChimeEmulator,
    clock: VirtualClock,
    tmp_path: Path,
) -> Replicas:
    """`replicas(n)`: n bots on one store, one Slack and one Chime, sharing the test's clock."""
    settings = one_store(
        request.param, request, tmp_path, chime_execution_lease=LEASE, chime_request_ttl=TTL
    )

    def running(count: int) -> AbstractAsyncContextManager[list[OfflineBot]]:
        return bots_on(emulator, clock, [settings] * count)

    return running


def cards(bots: list[OfflineBot]) -> list[PostedMessage]:
    return [m for m in bots[0].slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


def notes_about(bots: list[OfflineBot], card: PostedMessage) -> list[dict[str, Any]]:
    """The requester's notes about the bulk invite on `card` (each names its request)."""
    lead = str(buttons(card.message)[0][1]["value"])
    return [dm for dm in dms_to(bots[0], REQUESTER) if lead in all_text(dm)]


async def test_replicas_sweeping_expired_bulk_invites_update_each_card_and_tell_once(
    replicas: Replicas, clock: VirtualClock
) -> None:
    """As in the issue: three replicas sweeping four bulk invites at once."""
    async with replicas(3) as bots:
        for batch in range(4):
            await invite(bots[0], " ".join(addresses(12, f"b{batch}.example.org")) + f" {CORP}")
        before = {card.ts: len(card.updates) for card in cards(bots)}
        clock.advance(TTL + 1)

        # Every replica finds the same 48 lapsed addresses and expires what it can.
        await asyncio.gather(*(bot.runtime.sweep_once() for bot in bots))
        await asyncio.gather(*(bot.runtime.sweep_once() for bot in bots))

        assert {r.status for r in await every_request(bots[0])} == {Status.EXPIRED}
        for card in cards(bots):
            assert len(card.updates) == before[card.ts] + 1, "one update, whoever moved them"
            assert "Expired" in all_text(card.current) and buttons(card.current) == []
            assert "Pending" not in all_text(card.current)
            (note,) = notes_about(bots, card)
            assert "expired" in all_text(note)
        assert len(dms_to(bots[0], REQUESTER)) == 4


async def test_approve_all_racing_the_sweep_past_the_deadline_tells_once(
    replicas: Replicas, clock: VirtualClock
) -> None:
    async with replicas(2) as bots:
        a, b = bots
        for batch in range(3):
            await invite(a, " ".join(addresses(12, f"b{batch}.example.org")) + f" {CORP}")
        before = {card.ts: len(card.updates) for card in cards(bots)}
        clock.advance(TTL + 1)

        # Clicks that came too late, on both replicas, expire each invite as both sweeps do.
        clicks = [
            bot.sender.click(card.current, "Approve all 12", user_id=user, channel_id=card.channel)
            for card in cards(bots)
            for bot in bots
            for user in APPROVERS
        ]
        exchanges, *_ = await asyncio.gather(
            asyncio.gather(*clicks), a.runtime.sweep_once(), b.runtime.sweep_once()
        )
        assert {e.status for e in exchanges} == {200}
        await asyncio.gather(settle(a), settle(b))

        assert {r.status for r in await every_request(a)} == {Status.EXPIRED}
        assert a.emulator is not None and a.emulator.count("CreateUser") == 0
        for card in cards(bots):
            assert len(card.updates) == before[card.ts] + 1
            assert "Expired" in all_text(card.current)
            (note,) = notes_about(bots, card)
            assert "expired" in all_text(note)


async def test_replicas_finishing_bulk_invites_whose_decider_died_tell_once(
    replicas: Replicas, clock: VirtualClock
) -> None:
    """A replica claimed each lead and died (issue 24: 2 "Partly failed" notes in 2 of 3
    runs): after the lease every sweeping replica takes up the leads and the other addresses
    at once, and each requester hears once."""
    async with replicas(3) as bots:
        for batch in range(3):
            await invite(bots[0], " ".join(addresses(6, f"b{batch}.example.org")) + f" {CORP}")
        store = bots[0].runtime.store
        leads = [r for r in await every_request(bots[0]) if r.id == r.batch_id]
        for lead in leads:
            claimed = await store.transition(
                lead.id, Move.claim_approval(DEMO_APPROVER, clock.now())
            )
            assert claimed.ok
        clock.advance(LEASE + 1)
        emulator = bots[0].emulator
        assert emulator is not None
        # Chime answering in 50 ms keeps the replicas in step, as on a real network.
        emulator.set_latency(0.05)

        await asyncio.gather(*(bot.runtime.sweep_once() for bot in bots))

        # Each lead is looked up and, absent from Chime, run with its followers (its claimer
        # never got to Chime): every address is created once and told of once.
        after = await every_request(bots[0])
        assert {r.status for r in after} == {Status.APPROVED}
        assert emulator.count("CreateUser") == 3 * 6, "one CreateUser per address"
        for card in cards(bots):
            assert "6 done" in all_text(card.current)
            (note,) = notes_about(bots, card)
            assert "failed" not in all_text(note).lower()
        assert len(dms_to(bots[0], REQUESTER)) == 3
