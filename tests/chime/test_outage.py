"""Chime outages: a fast first answer, then answers at once from the circuit breaker, one probe
after the cool-down, recovery, and no approval lost on the way. Virtual time throughout."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from bot.chime.breaker import BreakerState
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Move, Status
from tests.approvals.test_invite import APPROVERS, click, invite, only_request, the_card
from tests.blockkit import all_text
from tests.chime.test_chime_errors import card_for
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

FIRST_REPLY_LIMIT = 8.0  # seconds of (virtual) time from a command to its reply in an outage
RECOVERY_LIMIT = 30.0  # seconds after Chime recovers by which lookups work again
OPEN = "Amazon Chime is not answering; nothing was changed"


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {"chime_approvers": ",".join(APPROVERS)}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def breaker_gauge(bot: OfflineBot, session: ClientSession) -> float:
    async with session.get(f"{bot.runtime.url}/metrics") as response:
        body = await response.text()
    match = re.search(r"^chime_bot_chime_breaker_state ([0-9.]+)$", body, re.MULTILINE)
    assert match, "the breaker's state is on /metrics"
    return float(match.group(1))


async def test_outage_is_answered_fast_then_at_once_and_recovers(
    bot: OfflineBot, clock: VirtualClock, session: ClientSession
) -> None:
    assert await breaker_gauge(bot, session) == 0
    bot.emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))

    started = clock.monotonic()
    first = await card_for(bot)
    assert "not answering" in first["text"] and "Nothing was changed" in all_text(first)
    assert clock.monotonic() - started <= FIRST_REPLY_LIMIT
    assert await breaker_gauge(bot, session) == 2

    calls, slept = bot.emulator.count(), len(clock.slept)
    for email in ("grace@example.com", "alan@example.com"):
        card = await card_for(bot, f"user {email}")
        assert OPEN in all_text(card)
    assert bot.emulator.count() == calls, "answered without calling Chime"
    assert len(clock.slept) == slept, "answered without waiting"

    # Chime recovers; within one cool-down the next lookup is the probe, and it works.
    bot.emulator.clear_faults()
    cool_down = bot.runtime.deps.directory.calls.breaker.cool_down  # type: ignore[union-attr]
    assert cool_down < RECOVERY_LIMIT
    clock.advance(cool_down)
    card = await card_for(bot)
    assert "Ada Lovelace" in all_text(card)
    assert await breaker_gauge(bot, session) == 0


async def test_a_failed_probe_opens_it_again_after_one_call(
    bot: OfflineBot, clock: VirtualClock, session: ClientSession
) -> None:
    bot.emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
    await card_for(bot)
    clock.advance(60)
    bot.emulator.reset_calls()
    probe = await card_for(bot)
    assert "not answering" in probe["text"]
    assert bot.emulator.count() == 1, "one probe, not a new run of retries"
    assert await breaker_gauge(bot, session) == 2
    after = await card_for(bot)
    assert OPEN in all_text(after) and bot.emulator.count() == 1


async def test_throttling_and_client_errors_do_not_open_it(
    bot: OfflineBot, session: ClientSession
) -> None:
    bot.emulator.inject("ListAccounts", Fault("ThrottledClientException", times=20))
    for _ in range(3):
        await card_for(bot)
    bot.emulator.clear_faults()
    bot.emulator.inject("GetUser", Fault("BadRequestException", times=10))
    for _ in range(6):
        await card_for(bot)
    assert await breaker_gauge(bot, session) == 0


async def test_approval_during_an_outage_fails_cleanly_and_retry_works_after(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, 'outage@example.com --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
    await card_for(bot)  # opens the breaker

    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("CreateUser") == 0
    request = await only_request(bot)
    assert request.status == Status.FAILED and OPEN in (request.error or "")
    assert [b["text"]["text"] for _, b in buttons(card.current)] == ["Retry"]

    bot.emulator.clear_faults()
    clock.advance(60)
    await click(bot, card, "Retry", "U0APPROVER2")
    assert bot.emulator.count("CreateUser") == 1
    assert (await only_request(bot)).status == Status.APPROVED
    assert len(bot.emulator.find_users("outage@example.com")) == 1


async def test_request_stranded_during_an_outage_is_reconciled_and_retried(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, 'stranded@example.com --account "Example Corp"')
    filed = await only_request(bot)
    # A replica claimed the approval and died before calling Chime.
    await bot.runtime.store.transition(filed.id, Move.claim_approval(DEMO_APPROVER, clock.now()))
    clock.advance(bot.runtime.settings.chime_execution_lease + 1)
    bot.emulator.inject("ListUsers", Fault("ServiceUnavailableException", times=-1))

    await bot.runtime.sweep_once()
    request = await only_request(bot)
    # Chime could not say what became of it: nothing is declared, the next sweep asks again.
    assert request.status == Status.APPROVING
    assert bot.emulator.count("CreateUser") == 0

    bot.emulator.clear_faults()
    clock.advance(60)
    await bot.runtime.sweep_once()
    assert (await only_request(bot)).status == Status.FAILED, "not in Chime: retryable"
    await click(bot, the_card(bot), "Retry", DEMO_APPROVER)
    assert (await only_request(bot)).status == Status.APPROVED
    assert bot.emulator.count("CreateUser") == 1


async def test_one_lookup_shares_one_budget_across_its_calls(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    """Throttling does not open the breaker, so only the shared deadline bounds the wait."""
    bot.emulator.inject("ListAccounts", Fault("ThrottledClientException", times=4))
    bot.emulator.inject("ListUsers", Fault("ThrottledClientException", times=-1))
    started = clock.monotonic()
    card = await card_for(bot)
    assert "throttling" in card["text"] and "Nothing was changed" in all_text(card)
    assert clock.monotonic() - started <= bot.runtime.settings.chime_lookup_budget
    assert bot.runtime.settings.chime_lookup_budget < FIRST_REPLY_LIMIT


async def test_only_one_probe_goes_through_while_others_are_refused(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    bot.emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
    await card_for(bot)
    bot.emulator.clear_faults()
    clock.advance(60)
    bot.emulator.latency_for("ListAccounts", 0.3, times=1)  # the probe takes a while
    breaker = bot.runtime.deps.directory.calls.breaker
    assert breaker is not None
    probe = await bot.sender.command("user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL)
    for _ in range(200):
        if breaker.state == BreakerState.HALF_OPEN:
            break
        await asyncio.sleep(0.005)
    assert breaker.state == BreakerState.HALF_OPEN
    other = await card_for(bot, "user grace@example.com")
    assert OPEN in all_text(other), "refused while the probe is out"
    assert "Ada Lovelace" in all_text(await probe.reply())
    assert breaker.state == BreakerState.CLOSED
    assert "Grace Hopper" in all_text(await card_for(bot, "user grace@example.com"))
