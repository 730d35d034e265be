"""Exactly one Chime call per approved lifecycle change (issue 21), under rival replicas and a
replica that died mid-change: the same guarantees as for invites, proven the same ways
(tests/approvals/test_replicas.py, test_reconcile.py, test_bulk_recovery.py).

Several offline bots share one store (SQLite file or one DynamoDB table on moto), one Slack
stand-in and one Chime emulator over HTTP, and the test's virtual clock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.models import Account
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot
from bot.store import InviteRequest, Move, Status
from tests.approvals.one_store import bots_on, one_store
from tests.approvals.test_invite import click, settle
from tests.approvals.test_lifecycle_changes import (
    CORP,
    EDSGER,
    MARGARET,
    command,
    every_request,
    user_status,
)
from tests.blockkit import all_text
from tests.clock import VirtualClock

pytest_plugins = ("tests.dynamo",)

LEASE = 60.0
CORP_ACCOUNT = Account(CORP, "Example Corp", "EnterpriseLWA")


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    return one_store(backend, request, tmp_path, chime_execution_lease=LEASE)


def card_of(bot: OfflineBot) -> object:
    (card,) = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    return card


async def test_rival_approvers_on_two_replicas_make_one_suspension(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    config = settings(backend, request, tmp_path)
    async with bots_on(emulator, clock, [config, config]) as (a, b):
        await command(a, "suspend edsger@example.com")
        (card,) = [m for m in a.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
        message = card.current
        exchanges = await asyncio.gather(
            a.sender.click(message, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel),
            b.sender.click(message, "Approve", user_id="U0APPROVER2", channel_id=card.channel),
        )
        assert [e.status for e in exchanges] == [200, 200]
        await settle(a)
        await settle(b)
        assert emulator.count("BatchSuspendUser") == 1
        assert user_status(a, "edsger@example.com") == ["Suspended"]


async def _strand(bot: OfflineBot, clock: VirtualClock, text: str) -> list[InviteRequest]:
    """What a replica that died right after claiming leaves: its requests `approving`, and
    its lease over by the time the survivor sweeps."""
    await command(bot, text)
    filed = await every_request(bot)
    lead = next(r for r in filed if r.batch_id in (None, r.id))
    claim = Move.claim_approval(DEMO_APPROVER, clock.now(), lease=LEASE)
    assert (await bot.runtime.store.transition(lead.id, claim)).ok
    for other in filed:
        if other.id != lead.id:
            current = await bot.runtime.store.get(lead.id)
            assert current is not None
            follow = Move.follow(current, DEMO_APPROVER, clock.now(), lease=LEASE)
            assert (await bot.runtime.store.transition(other.id, follow)).ok
    return filed


async def test_a_stranded_suspension_that_reached_chime_is_settled_by_looking(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    config = settings(backend, request, tmp_path)
    async with bots_on(emulator, clock, [config, config]) as (a, b):
        await _strand(a, clock, "suspend edsger@example.com")
        # The dead replica's call had reached Chime.
        await a.runtime.deps.directory.suspend_users(CORP_ACCOUNT, [EDSGER])
        assert await b.runtime.deps.approvals.reconcile() == 0  # its lease still holds
        clock.advance(LEASE + 1)
        assert await b.runtime.deps.approvals.reconcile() == 1
        (done,) = await every_request(b)
        assert done.status == Status.APPROVED and done.result is not None
        assert done.result.get("reconciled") == "true"
        assert emulator.count("BatchSuspendUser") == 1  # the dead replica's, and no other


async def test_a_stranded_suspension_that_never_reached_chime_fails_and_retry_runs_it_once(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    config = settings(backend, request, tmp_path)
    async with bots_on(emulator, clock, [config, config]) as (a, b):
        await _strand(a, clock, "suspend edsger@example.com")
        clock.advance(LEASE + 1)
        assert await b.runtime.deps.approvals.reconcile() == 1
        (failed,) = await every_request(b)
        assert failed.status == Status.FAILED
        assert "shows the change was not made" in str(failed.error)
        assert emulator.count("BatchSuspendUser") == 0
        card = card_of(b)
        await click(b, card, "Retry", DEMO_APPROVER)  # type: ignore[arg-type]
        assert emulator.count("BatchSuspendUser") == 1
        assert user_status(b, "edsger@example.com") == ["Suspended"]


async def test_a_stranded_batch_runs_only_the_addresses_chime_does_not_show_done(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    config = settings(backend, request, tmp_path)
    async with bots_on(emulator, clock, [config, config]) as (a, b):
        await _strand(a, clock, "suspend edsger@example.com margaret@example.com")
        await a.runtime.deps.directory.suspend_users(CORP_ACCOUNT, [EDSGER])  # one got through
        clock.advance(LEASE + 1)
        await b.runtime.deps.approvals.reconcile()
        await settle(b)
        calls = [c for c in emulator.calls if c.operation == "BatchSuspendUser"]
        assert [c.params["UserIdList"] for c in calls] == [[EDSGER], [MARGARET]]
        assert {r.status for r in await every_request(b)} == {Status.APPROVED}
        assert "2 done" in all_text(card_of(b).current)  # type: ignore[attr-defined]


async def test_a_lost_license_answer_ends_with_the_license_asked_and_no_replica_settles_it_again(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    config = settings(backend, request, tmp_path)
    async with bots_on(emulator, clock, [config, config]) as (a, b):
        await command(a, "license edsger@example.com Pro")
        emulator.inject("UpdateUser", Fault("ServiceFailureException", applied=True))
        await click(a, card_of(a), "Approve", DEMO_APPROVER)  # type: ignore[arg-type]
        clock.advance(LEASE + 1)
        assert await b.runtime.deps.approvals.reconcile() == 0
        (done,) = await every_request(b)
        assert done.status == Status.APPROVED
        # UpdateUser is sent again after a lost answer (the same license twice is the same
        # license), so the emulator may count the retry: what matters is the license.
        assert [u["LicenseType"] for u in emulator.find_users("edsger@example.com")] == ["Pro"]
