"""Bulk invites when things go wrong: replicas racing on one card, a decider that stopped
half-way, Slack failing after Chime acted, hostile text, and the sweep's once-per-batch work.

Over signed HTTP against the Slack stand-in and the Chime emulator, on SQLite and on DynamoDB
(moto) wherever the store is involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import MethodFault, PostedMessage, buttons
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Move, Status
from tests.approvals.one_store import bots_on, one_store
from tests.approvals.test_bulk_invite import CORP, TEAM, addresses, every_request, overrides
from tests.approvals.test_invite import (
    APPROVERS,
    ENTERPRISE,
    click,
    dms_to,
    invite,
    settle,
    the_card,
)
from tests.blockkit import all_text, assert_valid_message, literal_problems, plain_strings
from tests.clock import VirtualClock
from tests.conftest import REQUESTER
from tests.web.test_hostile_input import ISSUE_REASON

pytest_plugins = ("tests.dynamo",)

LEASE = 60.0


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    settings = overrides(request, chime_execution_lease=LEASE)
    async with offline_bot(settings, emulator=emulator, clock=clock) as running:
        yield running


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
async def test_replicas_racing_on_a_batch_decide_it_once_and_call_chime_once_per_address(
    backend: str,
    request: pytest.FixtureRequest,
    emulator: ChimeEmulator,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    settings = one_store(backend, request, tmp_path)
    async with bots_on(emulator, clock, [settings, settings]) as (a, b):
        emails = addresses(6)
        await invite(a, " ".join(emails) + f" {CORP}")
        card = the_card(a)
        message = card.current
        # Seven approvals and one denial of the same card at once, over both replicas.
        labels = ["Approve all 6"] * 7 + ["Deny all"]
        exchanges = await asyncio.gather(
            *(
                (a, b)[i % 2].sender.click(
                    message, label, user_id=APPROVERS[i % 3], channel_id=card.channel
                )
                for i, label in enumerate(labels)
            )
        )
        assert {e.status for e in exchanges} == {200}
        await asyncio.gather(settle(a), settle(b))

        requests = await every_request(a)
        (outcome,) = {r.status for r in requests}
        assert outcome in (Status.APPROVED, Status.DENIED), "decided as a whole"
        assert len({r.decided_by for r in requests}) == 1, "by one approver"
        made = 1 if outcome == Status.APPROVED else 0
        assert emulator.count("CreateUser") == 6 * made
        assert all(len(emulator.find_users(e)) == made for e in emails)
        notes = [n for e in exchanges for n in a.slack.responses[e.response_id]]
        assert len(notes) == 7, "every losing click is told privately"
        assert len(dms_to(a, REQUESTER)) == 1, "one note for the whole batch"
        assert_valid_message(card.current)
        assert buttons(card.current) == []


async def test_a_decider_stopped_half_way_is_finished_per_address_by_the_sweep(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    emails = addresses(4)
    await invite(bot, " ".join(emails) + f" {CORP}")
    card = the_card(bot)
    store = bot.runtime.store
    requests = await every_request(bot)
    lead = next(r for r in requests if r.id == r.batch_id)
    landed = next(r for r in requests if r.id != lead.id)
    # What a replica that died mid-way leaves: the lead and one other claimed, the CreateUser
    # of that other one taken effect in Chime, the last two never claimed.
    for claimed in (lead, landed):
        moved = await store.transition(claimed.id, Move.claim_approval(DEMO_APPROVER, clock.now()))
        assert moved.ok
    bot.emulator.add_user(ENTERPRISE, email=landed.email)

    await bot.runtime.sweep_once()  # within the lease: the decider may still be at work
    assert {r.status for r in await every_request(bot)} == {Status.PENDING, Status.APPROVING}
    clock.advance(LEASE + 1)
    await bot.runtime.sweep_once()

    after = {r.email: r for r in await every_request(bot)}
    assert after[landed.email].status == Status.APPROVED
    assert after[landed.email].result and after[landed.email].result.get("reconciled")
    # The lead's claimer never reached Chime: it is run like the addresses that follow it.
    assert all(r.status == Status.APPROVED for r in after.values())
    assert all(r.decided_by == DEMO_APPROVER for r in after.values())
    assert all(len(bot.emulator.find_users(e)) == 1 for e in emails)
    never_landed = [e for e in emails if e != landed.email]
    assert sorted(c.params["Email"] for c in bot.emulator.calls if c.operation == "CreateUser") == (
        sorted(never_landed)
    ), "once each, never for the one that had landed"
    assert "4 done" in all_text(card.current) and "failed" not in all_text(card.current)
    (dm,) = dms_to(bot, REQUESTER)
    assert "Approved" in dm["text"] and "failed" not in all_text(dm).lower()
    trail = [e.action for e in await store.audit_trail(landed.id)]
    assert trail == ["filed", "approve_claimed", "reconciled"]
    trail = [e.action for e in await store.audit_trail(lead.id)]
    assert trail == ["filed", "approve_claimed", "resumed", "approved", "told"]


async def test_a_lead_claimed_just_before_a_crash_is_run_with_its_followers(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """The decider's replica died right after the lead's claim (issue 24, item 4): once its
    lease is over, every address is created once, and the requester hears "done"."""
    emails = addresses(4)
    await invite(bot, " ".join(emails) + f" {CORP}")
    card = the_card(bot)
    store = bot.runtime.store
    lead = next(r for r in await every_request(bot) if r.id == r.batch_id)
    claim = Move.claim_approval(DEMO_APPROVER, clock.now(), lease=LEASE)
    assert (await store.transition(lead.id, claim)).ok

    await bot.runtime.sweep_once()  # within the lease: nothing is taken over
    assert bot.emulator.count("CreateUser") == 0
    clock.advance(LEASE + 1)
    await bot.runtime.sweep_once()
    await bot.runtime.sweep_once()  # a second sweep finds nothing left to do

    assert {r.status for r in await every_request(bot)} == {Status.APPROVED}
    assert bot.emulator.count("CreateUser") == len(emails)
    assert all(len(bot.emulator.find_users(e)) == 1 for e in emails)
    assert "4 done" in all_text(card.current)
    assert buttons(card.current) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert dm["text"].startswith("Approved") and "Partly failed" not in all_text(dm)


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
async def test_replicas_sweeping_a_stranded_lead_together_run_it_once(
    backend: str,
    request: pytest.FixtureRequest,
    emulator: ChimeEmulator,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    settings = one_store(backend, request, tmp_path, chime_execution_lease=LEASE)
    async with bots_on(emulator, clock, [settings, settings]) as (a, b):
        emails = addresses(4)
        await invite(a, " ".join(emails) + f" {CORP}")
        lead = next(r for r in await every_request(a) if r.id == r.batch_id)
        claim = Move.claim_approval(DEMO_APPROVER, clock.now(), lease=LEASE)
        assert (await a.runtime.store.transition(lead.id, claim)).ok
        clock.advance(LEASE + 1)

        await asyncio.gather(a.runtime.sweep_once(), b.runtime.sweep_once())
        await asyncio.gather(settle(a), settle(b))

        assert {r.status for r in await every_request(a)} == {Status.APPROVED}
        assert emulator.count("CreateUser") == len(emails), "once per address"
        assert all(len(emulator.find_users(e)) == 1 for e in emails)
        resumed = [e for e in await a.runtime.store.audit_trail(lead.id) if e.action == "resumed"]
        assert len(resumed) == 1


async def test_a_stranded_lead_that_reached_chime_is_approved_without_a_second_call(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    emails = addresses(3)
    await invite(bot, " ".join(emails) + f" {CORP}")
    store = bot.runtime.store
    lead = next(r for r in await every_request(bot) if r.id == r.batch_id)
    claim = Move.claim_approval(DEMO_APPROVER, clock.now(), lease=LEASE)
    assert (await store.transition(lead.id, claim)).ok
    bot.emulator.add_user(ENTERPRISE, email=lead.email)  # its CreateUser took effect
    clock.advance(LEASE + 1)
    await bot.runtime.sweep_once()

    after = {r.email: r for r in await every_request(bot)}
    assert {r.status for r in after.values()} == {Status.APPROVED}
    assert after[lead.email].result and after[lead.email].result.get("reconciled")
    created = sorted(c.params["Email"] for c in bot.emulator.calls if c.operation == "CreateUser")
    assert created == sorted(e for e in emails if e != lead.email)
    (dm,) = dms_to(bot, REQUESTER)
    assert dm["text"].startswith("Approved")


async def test_slack_failing_after_chime_acted_loses_nothing_and_repeats_nothing(
    bot: OfflineBot,
) -> None:
    emails = addresses(3)
    await invite(bot, " ".join(emails) + f" {TEAM}")
    card = the_card(bot)
    stale = PostedMessage(card.channel, card.ts, card.message)
    bot.slack.method_faults["chat.update"] = MethodFault(error="message_not_found")
    bot.slack.refuse_dms_with.add(REQUESTER)
    bot.slack.method_faults["chat.postEphemeral"] = MethodFault(error="channel_not_found")

    assert await click(bot, stale, "Approve all 3", DEMO_APPROVER) == []
    assert bot.emulator.count("InviteUsers") == 1
    assert {r.status for r in await every_request(bot)} == {Status.APPROVED}
    assert card.updates == [], "Slack took no update: the card is stale, the store is not"
    for request in await every_request(bot):
        (done,) = [
            e for e in await bot.runtime.store.audit_trail(request.id) if e.action == "approved"
        ]
        assert done.detail["result"] and "invite_status" in done.detail["result"]

    # The stale card still shows its buttons: a second approval changes nothing.
    (note,) = await click(bot, stale, "Approve all 3", "U0APPROVER2")
    assert "already decided" in all_text(note)
    assert bot.emulator.count("InviteUsers") == 1


async def test_hostile_reason_and_addresses_show_literally_on_the_batch_card(
    bot: OfflineBot,
) -> None:
    emails = [
        "a*b*@x.example",
        "_u_@x.example",
        "~s~@x.example",
        "`c`@x.example",
        "x&amp;y@x.example",
    ]
    await invite(bot, ", ".join(emails) + f" {CORP} {ISSUE_REASON}")
    card = the_card(bot)
    shown = "\n".join(plain_strings(card.message))
    for email in [
        "a*b*@x.example",
        "_u_@x.example",
        "~s~@x.example",
        "`c`@x.example",
        "x&y@x.example",
    ]:
        assert email in shown
    assert_valid_message(card.message)
    assert not literal_problems(card.message), literal_problems(card.message)
    await click(bot, card, "Approve all 5", DEMO_APPROVER)
    assert bot.emulator.find_users("x&y@x.example")
    for message in (card.current, *dms_to(bot, REQUESTER)):
        assert_valid_message(message)
        assert not literal_problems(message), literal_problems(message)


async def test_a_batch_gets_one_reminder_and_expires_once(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    settings = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_remind_after": 600.0,
        "chime_request_ttl": 3600,
    }
    async with offline_bot(settings, emulator=emulator, clock=clock) as bot:
        await invite(bot, " ".join(addresses(5)) + f" {TEAM}")
        card = the_card(bot)
        clock.advance(601)
        await bot.runtime.sweep_once()
        await bot.runtime.sweep_once()
        reminders = [m.message for m in bot.slack.messages if m.message.get("thread_ts") == card.ts]
        assert len(reminders) == 1
        assert "and the other addresses on the card" in all_text(reminders[0])

        updates = len(card.updates)
        clock.advance(3600)
        await bot.runtime.sweep_once()
        assert {r.status for r in await every_request(bot)} == {Status.EXPIRED}
        assert len(card.updates) == updates + 1, "one card update for the whole batch"
        assert "Expired" in all_text(card.current) and buttons(card.current) == []
        (dm,) = dms_to(bot, REQUESTER)
        assert "expired" in all_text(dm)
        assert bot.emulator.count("InviteUsers") == 0


async def test_followers_of_a_lead_approved_in_time_are_created_however_late_they_move(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """A replica claims the lead 10 ms before the deadline and stops before the others follow
    (issue 20, item 2): the click came in time for every address on the card."""
    emails = addresses(4)
    await invite(bot, " ".join(emails) + f" {CORP}")
    card = the_card(bot)
    store = bot.runtime.store
    lead = next(r for r in await every_request(bot) if r.id == r.batch_id)
    clock.advance(lead.expires_at - clock.now() - 0.01)
    assert (await store.transition(lead.id, Move.claim_approval(DEMO_APPROVER, clock.now()))).ok
    clock.advance(1.0)

    await bot.runtime.sweep_once()  # past the deadline, within the lease
    assert Status.EXPIRED not in {r.status for r in await every_request(bot)}
    # A click on the card as it still shows expires nothing either.
    (note,) = await click(bot, card, "Approve all 4", "U0APPROVER2")
    assert "already decided" in all_text(note)
    assert Status.EXPIRED not in {r.status for r in await every_request(bot)}

    clock.advance(LEASE + 1)
    await bot.runtime.sweep_once()
    after = {r.email: r for r in await every_request(bot)}
    followers = [e for e in emails if e != lead.email]
    assert all(after[e].status == Status.APPROVED for e in followers)
    assert all(after[e].decided_by == DEMO_APPROVER for e in followers)
    assert all(len(bot.emulator.find_users(e)) == 1 for e in followers)
    assert Status.EXPIRED not in {r.status for r in after.values()}
    assert "Expired" not in all_text(card.current)


@pytest.mark.parametrize("margin_ms", [2, 5, 10, 20, 40, 80])
async def test_approve_all_at_the_deadline_is_all_or_nothing(
    bot: OfflineBot, clock: VirtualClock, margin_ms: int
) -> None:
    """The clock runs on (1 ms a turn of the event loop) while "Approve all" is clicked just
    before the deadline: whatever instant the click is judged at, the card's addresses share
    one outcome, and the card and the requester's note say which."""
    emails = addresses(3)
    await invite(bot, " ".join(emails) + f" {CORP}")
    card = the_card(bot)
    lead = next(r for r in await every_request(bot) if r.id == r.batch_id)
    clock.advance(lead.expires_at - clock.now() - margin_ms / 1000)

    running = True

    async def time_flows() -> None:
        while running:
            clock.advance(0.001)
            await asyncio.sleep(0)

    ticker = asyncio.create_task(time_flows())
    try:
        await click(bot, card, "Approve all 3", DEMO_APPROVER)
    finally:
        running = False
        await ticker
    await bot.runtime.sweep_once()
    clock.advance(LEASE + 1)
    await bot.runtime.sweep_once()

    (outcome,) = {r.status for r in await every_request(bot)}
    assert outcome in (Status.APPROVED, Status.EXPIRED)
    made = 1 if outcome == Status.APPROVED else 0
    assert bot.emulator.count("CreateUser") == 3 * made
    assert all(len(bot.emulator.find_users(e)) == made for e in emails)
    (dm,) = dms_to(bot, REQUESTER)
    assert ("expired" in all_text(dm)) == (outcome == Status.EXPIRED)
