"""Settling an approval whose claimer went silent (`Approvals.reconcile`, run at start-up and on
every sweep): only once the claimer's own lease is over, only from what Chime says, and never on
a guess when Chime cannot be asked.

Over signed HTTP against the Slack stand-in and the Chime emulator, on SQLite and on DynamoDB
(moto).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Move, Status
from tests.approvals.one_store import bots_on, one_store
from tests.approvals.test_bulk_invite import CORP, TEAM, overrides
from tests.approvals.test_invite import click, dms_to, invite, settle, the_card
from tests.blockkit import all_text
from tests.clock import VirtualClock
from tests.conftest import REQUESTER

pytest_plugins = ("tests.dynamo",)

LEASE = 60.0


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    settings = overrides(request, chime_execution_lease=LEASE)
    async with offline_bot(settings, emulator=emulator, clock=clock) as running:
        yield running


async def _the_request(bot: OfflineBot) -> InviteRequest:
    found: list[InviteRequest] = []
    for status in Status:
        found += await bot.runtime.store.list_by_status(status)
    (request,) = found
    return request


async def _stranded(bot: OfflineBot, clock: VirtualClock, account: str) -> InviteRequest:
    """What a replica that died right after its claim leaves: an `approving` request whose
    Chime call was never sent, its lease over."""
    await invite(bot, f"lost@example.com {account}")
    request = await _the_request(bot)
    claim = Move.claim_approval(DEMO_APPROVER, clock.now())
    assert (await bot.runtime.store.transition(request.id, claim)).ok
    clock.advance(LEASE + 1)
    return request


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
async def test_a_lease_still_held_by_its_claimer_is_never_taken_over(
    backend: str,
    request: pytest.FixtureRequest,
    emulator: ChimeEmulator,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    """Replica A claims with a 120 s lease and is still waiting for CreateUser when replica B,
    whose own lease is 60 s, sweeps 61 s later: by A's measure the lease is held, so B leaves it
    alone, and the requester hears one thing, that the user was created."""
    # A claims with a 120 s lease, B sweeps with 60 s.
    settings = [
        one_store(backend, request, tmp_path, chime_execution_lease=lease)
        for lease in (120.0, LEASE)
    ]
    async with bots_on(emulator, clock, settings) as (a, b):
        await invite(a, f"slow@example.com {CORP}")
        card = the_card(a)
        filed = await _the_request(a)
        emulator.set_latency(1.0, "CreateUser")  # real time: in flight while B sweeps
        exchange = await a.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        assert exchange.status == 200
        for _ in range(400):
            claimed = await a.runtime.store.get(filed.id)
            if claimed is not None and claimed.status == Status.APPROVING:
                break
            await asyncio.sleep(0.005)
        clock.advance(LEASE + 1)

        await b.runtime.sweep_once()
        held = await b.runtime.store.get(filed.id)
        assert held is not None and held.status == Status.APPROVING, "A's call is in flight"
        await settle(a)

        done = await a.runtime.store.get(filed.id)
        assert done is not None and done.status == Status.APPROVED
        assert emulator.count("CreateUser") == 1
        (user,) = emulator.find_users("slow@example.com")
        assert user["UserId"] in all_text(card.current)
        assert "not created" not in all_text(card.current)
        (dm,) = dms_to(a, REQUESTER)
        assert "failed" not in all_text(dm).lower()
        actions = [e.action for e in await a.runtime.store.audit_trail(done.id)]
        assert actions == ["filed", "approve_claimed", "approved"]


async def test_a_stranded_approval_stays_approving_while_chime_cannot_be_asked(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    request = await _stranded(bot, clock, CORP)
    card = the_card(bot)
    assert bot.emulator is not None
    bot.emulator.inject("ListUsers", Fault("ServiceUnavailableException", times=-1))

    await bot.runtime.sweep_once()
    left = await bot.runtime.store.get(request.id)
    assert left is not None and left.status == Status.APPROVING, "nothing declared on a guess"
    assert dms_to(bot, REQUESTER) == []
    assert "failed" not in all_text(card.current).lower()
    assert "reconciled" not in [e.action for e in await bot.runtime.store.audit_trail(request.id)]

    # Chime answers again (and the breaker's cool-down is over): the next sweep asks, finds no
    # user, and only now says so.
    bot.emulator.clear_faults()
    clock.advance(LEASE)
    await bot.runtime.sweep_once()
    failed = await bot.runtime.store.get(request.id)
    assert failed is not None and failed.status == Status.FAILED
    assert "Amazon Chime has no user with this address" in (failed.error or "")
    assert "the user was not created" in (failed.error or "")
    (dm,) = dms_to(bot, REQUESTER)
    assert "Failed" in all_text(dm)
    assert "Retry" in str(buttons(card.current))

    # Retry looks again and runs the call once.
    await click(bot, card, "Retry", "U0APPROVER2")
    assert bot.emulator.count("CreateUser") == 1
    assert len(bot.emulator.find_users("lost@example.com")) == 1
    done = await bot.runtime.store.get(request.id)
    assert done is not None and done.status == Status.APPROVED


async def test_a_stranded_invitation_missing_in_chime_is_said_not_invited(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    request = await _stranded(bot, clock, TEAM)
    await bot.runtime.sweep_once()
    failed = await bot.runtime.store.get(request.id)
    assert failed is not None and failed.status == Status.FAILED
    assert "the user was not invited" in (failed.error or "")
    assert bot.emulator is not None and bot.emulator.count("InviteUsers") == 0
