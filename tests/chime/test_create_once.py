"""CreateUser exactly once, and the truth about it, when Chime's answer is lost.

The whole approve flow runs over signed HTTP against the emulator's applied-then-failed faults:
the first CreateUser takes effect and its answer is replaced by a 5xx, a dropped connection, a
stall past the read timeout, or an unreadable body. The bot must never send CreateUser again
before looking the email up, and must say that this request created the user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import APPROVERS, click, dms_to, invite, only_request, the_card
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.conftest import REQUESTER

EMAIL = "once@example.com"
LOST_ANSWERS = [
    Fault("ServiceUnavailableException", applied=True),
    Fault("ServiceFailureException", applied=True),
    Fault("InternalFailure", applied=True, http_status=502),
    Fault("ConnectionReset", applied=True),
    Fault("Stall", applied=True, hold=5.0),
    Fault("GarbledResponse", applied=True),
]


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_retry_budget": 5.0,
        # A stalled CreateUser is given up on after this, with its effect unknown.
        "chime_read_timeout": 0.3,
    }
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


def operations(bot: OfflineBot) -> list[str]:
    assert bot.emulator is not None
    return [c.operation for c in bot.emulator.calls]


@pytest.mark.parametrize("fault", LOST_ANSWERS, ids=lambda f: f.error)
async def test_lost_answer_after_create_is_reported_as_created_by_this_request(
    bot: OfflineBot, fault: Fault
) -> None:
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.reset_calls()
    bot.emulator.inject("CreateUser", fault)

    await click(bot, card, "Approve", DEMO_APPROVER)

    assert bot.emulator.count("CreateUser") == 1, "never sent again after it took effect"
    after_create = operations(bot)[operations(bot).index("CreateUser") + 1 :]
    assert after_create[:1] == ["ListUsers"], "looked the email up before anything else"
    (created,) = bot.emulator.find_users(EMAIL)
    request = await only_request(bot)
    assert request.status == Status.APPROVED
    assert request.result is not None and request.result["user_id"] == created["UserId"]
    assert request.result.get("outcome") != "already_exists"

    final = card.current
    assert_valid_message(final)
    text = all_text(final)
    assert created["UserId"] in text and "Created" in text
    assert "already existed" not in text and "nothing new was created" not in text
    assert buttons(final) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert created["UserId"] in all_text(dm) and "already existed" not in all_text(dm)
    approved = [
        e for e in await bot.runtime.store.audit_trail(request.id) if e.action == "approved"
    ]
    assert approved and created["UserId"] in approved[0].detail["result"]
    assert "already_exists" not in approved[0].detail["result"]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ServiceUnavailableException"),
        Fault("ServiceFailureException"),
        Fault("ConnectionReset"),
    ],
    ids=lambda f: f.error,
)
async def test_lost_answer_without_effect_looks_then_creates_once(
    bot: OfflineBot, fault: Fault
) -> None:
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.reset_calls()
    bot.emulator.inject("CreateUser", fault)

    await click(bot, card, "Approve", DEMO_APPROVER)

    ops = operations(bot)
    first, second = (i for i, op in enumerate(ops) if op == "CreateUser")
    assert "ListUsers" in ops[first + 1 : second], "looked before calling CreateUser again"
    (created,) = bot.emulator.find_users(EMAIL)
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.result is not None
    assert request.result["user_id"] == created["UserId"]
    assert f"Created user {created['UserId']}" in all_text(card.current)


async def test_throttled_create_is_retried_without_a_lookup(bot: OfflineBot) -> None:
    """A 429 is a refusal: nothing happened, so CreateUser may simply be sent again."""
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.reset_calls()
    bot.emulator.inject("CreateUser", Fault("ThrottledClientException", times=2))
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert operations(bot) == ["CreateUser"] * 3
    assert (await only_request(bot)).status == Status.APPROVED


async def test_conflict_on_the_first_attempt_means_it_already_existed(bot: OfflineBot) -> None:
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    # Someone else created the user after the request was filed, before the approval.
    existing = bot.emulator.add_user("c0a1c0a1-5e3d-4b8a-9f21-000000000001", email=EMAIL)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("CreateUser") == 1
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.result is not None
    assert request.result["outcome"] == "already_exists"
    text = all_text(card.current)
    assert "already existed" in text and existing["UserId"] in text


async def test_lost_answer_and_chime_down_fails_with_retry_that_looks_first(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.inject("CreateUser", Fault("ServiceUnavailableException", applied=True))
    bot.emulator.inject("ListUsers", Fault("ServiceUnavailableException", times=-1))

    await click(bot, card, "Approve", DEMO_APPROVER)

    assert bot.emulator.count("CreateUser") == 1
    request = await only_request(bot)
    assert request.status == Status.FAILED
    assert "could not be asked whether it took effect" in (request.error or "")
    assert [b["text"]["text"] for _, b in buttons(card.current)] == ["Retry"]

    bot.emulator.clear_faults()
    clock.advance(60)  # past the circuit breaker's cool-down
    await click(bot, card, "Retry", "U0APPROVER2")
    assert bot.emulator.count("CreateUser") == 1, "Retry found the user: no second CreateUser"
    (created,) = bot.emulator.find_users(EMAIL)
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.result is not None
    assert request.result["user_id"] == created["UserId"]
    assert "already existed" not in all_text(card.current)


async def test_conflict_after_a_retry_is_not_called_already_existed(bot: OfflineBot) -> None:
    """After a failed execution, a 409 may be this request's own earlier attempt showing up."""
    await invite(bot, f'{EMAIL} --account "Example Corp"')
    card = the_card(bot)
    bot.emulator.inject("CreateUser", Fault("BadRequestException"))
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert (await only_request(bot)).status == Status.FAILED
    # The user appears between Retry's lookup and its CreateUser.
    bot.emulator.inject("CreateUser", Fault("ConflictException", applied=True))
    await click(bot, card, "Retry", DEMO_APPROVER)
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.result is not None
    assert request.result.get("outcome") != "already_exists"
    (created,) = bot.emulator.find_users(EMAIL)
    assert request.result["user_id"] == created["UserId"]
