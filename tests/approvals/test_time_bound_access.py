"""Time-bound access (issue 21) end to end over signed HTTP: `/chime invite … --for 8h`, its end
on the card and in the DM, the suspension when the time is up (one BatchSuspendUser, audited by
"system", across replicas and restarts), the Extend offer and its approval, `max_access`,
`/chime access` and the lookup card. The Chime emulator and the store (SQLite, or DynamoDB on
moto) are real; time moves only when a test says so (VirtualClock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.approvals.access import ACCESS_END_TRIES, file_suspension
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Change, InviteRequest, Move, Status
from tests.approvals.one_store import bots_on, one_store
from tests.approvals.test_invite import APPROVERS, click, dms_to, settle, the_card
from tests.approvals.test_lifecycle_changes import command
from tests.blockkit import all_text, assert_valid_message
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import REQUESTER

pytest_plugins = ("tests.dynamo",)

HOUR = 3600.0
NEW = "temp.worker@example.com"
CORP = "--account c0a1c0a1-5e3d-4b8a-9f21-000000000001"


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bot(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> AsyncIterator[OfflineBot]:
    async with offline_bot(
        one_store(backend, request, tmp_path), emulator=emulator, clock=clock
    ) as running:
        yield running


async def invite_approved(bot: OfflineBot, clock: VirtualClock, text: str) -> InviteRequest:
    """File `text` as an invite, approve it on its card; the approved request."""
    note = await command(bot, f"invite {text}")
    assert "awaits approval" in all_text(note), all_text(note)
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    (invite,) = await bot.runtime.store.list_time_bound()
    return invite


def date_of(epoch: float) -> str:
    return f"<!date^{int(epoch)}^"


async def ended_told(bot: OfflineBot) -> None:
    """Until the requester has been told their access ended, by whichever sweep ran it."""
    await bot.slack.wait_for(lambda: any("ended" in all_text(m) for m in dms_to(bot, REQUESTER)))


def suspensions(bot: OfflineBot) -> int:
    return bot.emulator.count("BatchSuspendUser")


async def test_an_invite_for_8h_is_suspended_once_when_its_time_is_up_audited_by_system(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    note = await command(bot, f"invite {NEW} {CORP} --for 8h contractor")
    assert "for 8h from approval" in all_text(note)
    card = the_card(bot)
    assert "for 8h from approval" in all_text(card.message)
    clock.advance(600)  # the period starts at approval, not at filing
    approved_at = clock.now()
    await click(bot, card, "Approve", DEMO_APPROVER)
    (invite,) = await bot.runtime.store.list_time_bound()
    assert invite.access_until == approved_at + 8 * HOUR
    assert date_of(invite.access_until) in all_text(card.current)
    (dm,) = dms_to(bot, REQUESTER)
    assert date_of(invite.access_until) in all_text(dm)

    clock.advance(8 * HOUR - 1)
    await bot.runtime.sweep_once()
    assert suspensions(bot) == 0  # not a second early
    clock.advance(2)
    await bot.runtime.sweep_once()
    await bot.runtime.sweep_once()
    assert suspensions(bot) == 1
    (user,) = bot.emulator.find_users(NEW)
    assert user.get("UserRegistrationStatus") == "Suspended"
    assert await bot.runtime.store.list_time_bound() == []
    approved = await bot.runtime.store.list_by_status(Status.APPROVED)
    (suspension,) = [r for r in approved if r.change == Change.SUSPEND]
    trail = await bot.runtime.store.audit_trail(suspension.id)
    (ran,) = [e for e in trail if e.action == "ran_without_approval"]
    assert ran.actor == "system"
    assert ran.detail["why"] == "access ended" and ran.detail["access_of"] == invite.id
    ended = dms_to(bot, REQUESTER)[-1]
    assert_valid_message(ended)
    assert "ended" in all_text(ended) and "suspended" in all_text(ended)


async def test_a_team_users_access_end_removes_them_and_says_so(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    invite = await invite_approved(bot, clock, 'temp@example.org --account "Example Team" --for 2h')
    text = all_text(dms_to(bot, REQUESTER)[0])
    assert date_of(float(invite.access_until or 0)) in text
    clock.advance(2 * HOUR + 1)
    await bot.runtime.sweep_once()
    ended = all_text(dms_to(bot, REQUESTER)[-1])
    assert "ended" in ended
    assert "removed from the Team account" in ended, ended


async def test_two_replicas_sweeping_together_suspend_once(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    settings = one_store(backend, request, tmp_path)
    async with bots_on(emulator, clock, [settings, settings, settings]) as (a, b, c):
        await invite_approved(a, clock, f"{NEW} {CORP} --for 8h")
        clock.advance(8 * HOUR + 1)
        await asyncio.gather(*(x.runtime.sweep_once() for x in (a, b, c, a, b, c)))
        # Each bot's own background sweeper may be the one that won: wait for its word.
        await ended_told(a)
        assert emulator.count("BatchSuspendUser") == 1
        ended = [m for m in dms_to(a, REQUESTER) if "ended" in all_text(m)]
        assert len(ended) == 1


async def test_a_restart_after_the_end_was_claimed_still_suspends_once(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: ChimeEmulator,
    clock: VirtualClock,
) -> None:
    settings = one_store(backend, request, tmp_path)
    async with bots_on(emulator, clock, [settings]) as (first,):
        invite = await invite_approved(first, clock, f"{NEW} {CORP} --for 8h")
        clock.advance(8 * HOUR + 1)
        # The replica stops after claiming the end and before running the suspension: Chime
        # refuses its call as if the process had died there (nothing reached Chime).
        found = await first.runtime.deps.directory.user_in(invite.account, NEW, patient=True)
        assert found is not None
        await file_suspension(first.runtime.deps.approvals.steps, invite, found.user.user_id)
        until = float(invite.access_until or 0)
        assert (
            await first.runtime.store.transition(invite.id, Move.end_access(until, clock.now()))
        ).ok
    assert emulator.count("BatchSuspendUser") == 0
    async with bots_on(emulator, clock, [settings, settings]) as (again, other):
        await asyncio.gather(again.runtime.sweep_once(), other.runtime.sweep_once())
        await again.runtime.sweep_once()
        # The sweep at a bot's start-up (a background task) may be the one running it.
        await ended_told(again)
        assert emulator.count("BatchSuspendUser") == 1
        (user,) = emulator.find_users(NEW)
        assert user.get("UserRegistrationStatus") == "Suspended"


async def test_extend_is_offered_once_and_its_approval_moves_the_end(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    invite = await invite_approved(bot, clock, f"{NEW} {CORP} --for 8h")
    until = float(invite.access_until or 0)
    before = len(dms_to(bot, REQUESTER))
    clock.advance(8 * HOUR - 49 * 60)  # 49 minutes left: a tenth of 8h is 48
    await bot.runtime.sweep_once()
    assert len(dms_to(bot, REQUESTER)) == before
    clock.advance(2 * 60)
    await bot.runtime.sweep_once()
    await bot.runtime.sweep_once()
    offers = [m for m in bot.slack.messages if m.channel == "D" + REQUESTER.lstrip("U")][before:]
    assert len(offers) == 1
    offer = offers[0]
    assert_valid_message(offer.message)
    assert date_of(until) in all_text(offer.message)

    exchange = await bot.sender.click(
        offer.message, "Extend by 8h", user_id=REQUESTER, channel_id=offer.channel
    )
    assert exchange.status == 200
    await settle(bot)
    cards = [
        m
        for m in bot.slack.messages
        if m.message.get("blocks") and "extension" in all_text(m.message)
    ]
    card = cards[-1]
    assert date_of(until) in all_text(card.message) and date_of(until + 8 * HOUR) in all_text(
        card.message
    )
    await click(bot, card, "Approve", DEMO_APPROVER)
    (moved,) = await bot.runtime.store.list_time_bound()
    assert moved.access_until == until + 8 * HOUR

    clock.advance(60 * 60)  # past the old end
    await bot.runtime.sweep_once()
    assert suspensions(bot) == 0
    clock.advance(8 * HOUR)
    await bot.runtime.sweep_once()
    assert suspensions(bot) == 1


async def test_max_access_is_applied_and_a_longer_ask_is_refused(
    tmp_path: Path, emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        f"default:\n  approvers: [{', '.join(APPROVERS)}]\n  max_access: 1d\n", encoding="utf-8"
    )
    settings = {"chime_policy_file": str(path), **TRUST_VIRTUAL_TIME}
    async with offline_bot(settings, emulator=emulator, clock=clock) as bot:
        refused = all_text(await command(bot, f"invite {NEW} {CORP} --for 2d"))
        assert "at most 1d" in refused and "you asked for 2d" in refused
        assert [m for m in bot.slack.messages if m.message.get("blocks")] == []
        note = all_text(await command(bot, f"invite {NEW} {CORP}"))
        assert "for 1d from approval" in note


async def test_access_lists_the_ends_and_a_lookup_shows_one(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    invite = await invite_approved(bot, clock, f"{NEW} {CORP} --for 8h")
    listed = await command(bot, "access")
    text = all_text(listed)
    assert NEW in text and date_of(float(invite.access_until or 0)) in text
    looked = all_text(await command(bot, f"user {NEW}"))
    assert "Access ends" in looked and date_of(float(invite.access_until or 0)) in looked
    clock.advance(8 * HOUR + 1)
    await bot.runtime.sweep_once()
    assert NEW not in all_text(await command(bot, "access"))


async def test_an_access_end_chime_refuses_is_tried_again_then_put_before_the_approvers(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """A leaver's access must end: a suspension that fails is not left failed behind no card.
    The sweep tries it again a few times, then posts its card with Retry for the approvers."""
    invite = await invite_approved(bot, clock, f"{NEW} {CORP} --for 8h")
    (user,) = bot.emulator.find_users(NEW)
    bot.emulator.set_user_error("BatchSuspendUser", user["UserId"], "ServiceFailure", "down")
    clock.advance(8 * HOUR + 1)
    await bot.runtime.sweep_once()
    assert suspensions(bot) == 1
    (failed,) = await bot.runtime.store.list_by_status(Status.FAILED)
    for _ in range(ACCESS_END_TRIES + 2):
        await bot.runtime.sweep_once()
    assert suspensions(bot) == ACCESS_END_TRIES  # tried again, boundedly
    cards = [m for m in bot.slack.messages if failed.id in all_text(m.message)]
    (card,) = [m for m in cards if m.channel == DEMO_APPROVAL_CHANNEL]
    assert_valid_message(card.message)
    assert "Retry" in all_text(card.message) and "down" in all_text(card.message)
    bot.emulator.clear_user_errors()
    await click(bot, card, "Retry", DEMO_APPROVER)
    assert suspensions(bot) == ACCESS_END_TRIES + 1
    (user,) = bot.emulator.find_users(NEW)
    assert user.get("UserRegistrationStatus") == "Suspended"
    # Whoever asked for the access hears that it has now ended.
    told = all_text(dms_to(bot, REQUESTER)[-1])
    assert failed.id in told and "Suspended and signed out" in told
    assert invite.access_until is not None


async def test_an_extension_the_policy_needs_no_approval_for_moves_the_end_at_once(
    tmp_path: Path, emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        f"default:\n  approvers: [{', '.join(APPROVERS)}]\n  actions: {{extend: none}}\n",
        encoding="utf-8",
    )
    settings = {"chime_policy_file": str(path), **TRUST_VIRTUAL_TIME}
    async with offline_bot(settings, emulator=emulator, clock=clock) as bot:
        invite = await invite_approved(bot, clock, f"{NEW} {CORP} --for 8h")
        until = float(invite.access_until or 0)
        clock.advance(8 * HOUR - 30 * 60)
        await bot.runtime.sweep_once()
        offer = [m for m in bot.slack.messages if m.channel == "D" + REQUESTER.lstrip("U")][-1]
        exchange = await bot.sender.click(
            offer.message, "Extend by 8h", user_id=REQUESTER, channel_id=offer.channel
        )
        assert exchange.status == 200
        await settle(bot)
        (moved,) = await bot.runtime.store.list_time_bound()
        assert moved.access_until == until + 8 * HOUR
        said = all_text(bot.slack.responses[exchange.response_id][-1])
        assert "needs no approval" in said and "Unexpected" not in said
