"""The user lifecycle's Chime calls (BatchSuspendUser, BatchUnsuspendUser, LogoutUser,
ResetPersonalPIN, UpdateUser) and `user_state`, through the bot's own `Directory` and client
against the emulator over signed HTTP: per-user UserErrors, the 50-ID limit, which calls are
repeated after a lost answer and which are left to be settled by looking, and a PIN that no
repr or log line shows."""

from __future__ import annotations

import io
import json
import logging
import pickle
from collections.abc import AsyncIterator

import pytest

from bot import logs
from bot.chime.directory import Directory
from bot.chime.lifecycle import BatchOutcome, SecretPin, UserError
from bot.errors import (
    ChimeNotFound,
    ChimeRejected,
    ChimeThrottled,
    ChimeUnavailable,
    InvalidInput,
)
from bot.models import Account
from bot.offline.emulator import ChimeEmulator, Fault, SignOut
from bot.offline.wiring import OfflineBot, offline_bot
from tests.clock import VirtualClock
from tests.offline.test_emulator import ADA, CORP, GRACE, TEAM

ALAN = "a0000000-5e3d-4b8a-9f21-000000000004"
LINUS = "a0000000-5e3d-4b8a-9f21-000000000101"
# Answers lost after the call took effect: a 5xx, a dropped connection, a stall past the read
# timeout, an unreadable body (the emulator's applied-then-failed faults).
LOST_ANSWERS = [
    Fault("ServiceUnavailableException", applied=True),
    Fault("InternalFailure", applied=True, http_status=502),
    Fault("ConnectionReset", applied=True),
    Fault("Stall", applied=True, hold=5.0),
    Fault("GarbledResponse", applied=True),
]


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    # A stalled call is given up on after the read timeout, with its effect unknown.
    overrides: dict[str, object] = {"chime_retry_budget": 5.0, "chime_read_timeout": 0.3}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


@pytest.fixture
def directory(bot: OfflineBot) -> Directory:
    return bot.runtime.deps.directory


async def account(directory: Directory, account_id: str) -> Account:
    found = await directory.account_by_id(account_id)
    assert found is not None
    return found


def status(emulator: ChimeEmulator | None, email: str) -> str | None:
    assert emulator is not None
    users = emulator.find_users(email)
    return users[0]["UserRegistrationStatus"] if users else None


def sent(emulator: ChimeEmulator | None, operation: str) -> int:
    assert emulator is not None
    return emulator.count(operation)


def many_users(emulator: ChimeEmulator | None, count: int) -> list[str]:
    assert emulator is not None
    return [emulator.add_user(CORP, email=f"bulk{n}@example.com")["UserId"] for n in range(count)]


# ---- BatchSuspendUser / BatchUnsuspendUser ---------------------------------------------------


async def test_suspend_on_enterprise_lwa_is_done_for_each_user_and_reads_suspended(
    bot: OfflineBot, directory: Directory
) -> None:
    corp = await account(directory, CORP)
    bot.emulator.reset_calls()

    outcome = await directory.suspend_users(corp, [ADA, ALAN, ADA])

    assert outcome.done == (ADA, ALAN) and outcome.failed == {}
    (call,) = bot.emulator.calls
    assert call.operation == "BatchSuspendUser" and call.params["UserIdList"] == [ADA, ALAN]
    assert status(bot.emulator, "ada@example.com") == "Suspended"
    state = await directory.user_state(corp, ADA)
    assert state.suspended and not state.absent and state.registration == "Suspended"
    assert state.license_type == "Pro"


async def test_suspend_on_a_team_account_leaves_the_user_absent(
    bot: OfflineBot, directory: Directory
) -> None:
    team = await account(directory, TEAM)
    outcome = await directory.suspend_users(team, [LINUS])
    assert outcome.done == (LINUS,)
    state = await directory.user_state(team, LINUS)
    assert state.absent and not state.suspended and state.registration == "Absent"
    assert state.license_type is None


async def test_user_errors_are_those_users_failures_and_never_done(
    bot: OfflineBot, directory: Directory
) -> None:
    corp = await account(directory, CORP)
    bot.emulator.set_user_error("BatchSuspendUser", ALAN, "ServiceFailure", "try again later")
    bot.emulator.set_user_error("BatchSuspendUser", GRACE, "Forbidden", "not for this one")

    outcome = await directory.suspend_users(corp, [ADA, ALAN, "nobody", GRACE])

    assert outcome.done == (ADA,)
    assert set(outcome.failed) == {ALAN, "nobody", GRACE}
    assert outcome.failed[ALAN] == UserError(ALAN, "ServiceFailure", "try again later")
    assert outcome.failed["nobody"].code == "NotFound"
    assert status(bot.emulator, "alan@example.com") == "Registered", "Chime did not act"

    # Each failure in the bot's taxonomy, in plain words with Chime's code and message.
    failure = outcome.failed[ALAN].problem("BatchSuspendUser")
    assert isinstance(failure, ChimeUnavailable) and failure.effect_unknown
    assert ALAN in failure.message and "ServiceFailure: try again later" in failure.message
    assert "may" in failure.message and "look" in (failure.hint or "")
    assert isinstance(outcome.failed["nobody"].problem("BatchSuspendUser"), ChimeNotFound)
    refused = outcome.failed[GRACE].problem("BatchSuspendUser")
    assert type(refused) is ChimeRejected, "a per-user Forbidden is not the bot's IAM"
    assert "Forbidden: not for this one" in refused.message


def test_an_error_naming_no_sent_id_leaves_every_other_user_unknown() -> None:
    outcome = BatchOutcome.from_api(
        ["u1", "u2", "u3"],
        {
            "UserErrors": [
                {"ErrorCode": "ServiceFailure"},
                {"UserId": "u2", "ErrorCode": "NotFound"},
            ]
        },
    )
    assert outcome.done == () and outcome.unknown == ("u1", "u3")
    assert set(outcome.failed) == {"u2"}
    assert outcome.unattributed == (UserError("", "ServiceFailure", ""),)
    throttled = UserError("u1", "Throttled", "slow down").problem("BatchSuspendUser")
    assert isinstance(throttled, ChimeThrottled) and not throttled.effect_unknown


async def test_unsuspend_returns_users_to_registered_with_user_errors_per_user(
    bot: OfflineBot, directory: Directory
) -> None:
    corp = await account(directory, CORP)
    await directory.suspend_users(corp, [ADA, ALAN])
    bot.emulator.set_user_error("BatchUnsuspendUser", ALAN, "Throttled", "slow down")

    outcome = await directory.unsuspend_users(corp, [ADA, ALAN])

    assert outcome.done == (ADA,) and outcome.failed[ALAN].code == "Throttled"
    assert (await directory.user_state(corp, ADA)).registration == "Registered"
    assert (await directory.user_state(corp, ALAN)).suspended


async def test_unsuspend_on_a_team_account_is_rejected_in_chimes_words(
    directory: Directory,
) -> None:
    team = await account(directory, TEAM)
    with pytest.raises(ChimeRejected) as refused:
        await directory.unsuspend_users(team, [LINUS])
    assert "only supported for EnterpriseLWA accounts" in refused.value.message


@pytest.mark.parametrize("operation", ["suspend_users", "unsuspend_users"])
async def test_fifty_ids_go_in_one_call_and_fifty_one_are_refused_before_any(
    bot: OfflineBot, directory: Directory, operation: str
) -> None:
    corp = await account(directory, CORP)
    ids = many_users(bot.emulator, 51)
    call = getattr(directory, operation)
    name = "BatchSuspendUser" if operation == "suspend_users" else "BatchUnsuspendUser"
    bot.emulator.reset_calls()

    for too_many in (ids, []):
        with pytest.raises(InvalidInput) as refused:
            await call(corp, too_many)
        assert "nothing was sent" in refused.value.message
    assert "at most 50" in (await _refusal(call, corp, ids))
    assert sent(bot.emulator, name) == 0, "refused before calling Chime"

    # 50 distinct IDs, one of them twice: within the limit, sent once each in one call.
    outcome = await call(corp, [*ids[:50], ids[0]])
    assert sent(bot.emulator, name) == 1
    assert bot.emulator.calls[-1].params["UserIdList"] == ids[:50]
    assert outcome.done == tuple(ids[:50])


async def _refusal(call: object, corp: Account, ids: list[str]) -> str:
    with pytest.raises(InvalidInput) as refused:
        await call(corp, ids)  # type: ignore[operator]
    return refused.value.message


# ---- lost answers, throttling ----------------------------------------------------------------


@pytest.mark.parametrize("fault", LOST_ANSWERS, ids=lambda f: f.error)
@pytest.mark.parametrize("where", [CORP, TEAM])
async def test_suspend_whose_answer_is_lost_is_not_repeated_and_the_state_tells(
    bot: OfflineBot, directory: Directory, fault: Fault, where: str
) -> None:
    """Sent again, a Team suspension would meet a user already removed (a per-user NotFound for
    a change that was made): it is left to the caller to settle by looking."""
    target = await account(directory, where)
    user = ADA if where == CORP else LINUS
    bot.emulator.inject("BatchSuspendUser", fault)

    with pytest.raises(ChimeUnavailable) as lost:
        await directory.suspend_users(target, [user])

    assert lost.value.effect_unknown
    assert sent(bot.emulator, "BatchSuspendUser") == 1, "never repeated blindly"
    state = await directory.user_state(target, user)
    assert state.suspended if where == CORP else state.absent


@pytest.mark.parametrize("fault", LOST_ANSWERS, ids=lambda f: f.error)
async def test_pin_reset_whose_answer_is_lost_is_not_repeated(
    bot: OfflineBot, directory: Directory, fault: Fault
) -> None:
    """A repeat could be overtaken by the first call landing late, and the PIN delivered would
    then not be the one in force."""
    corp = await account(directory, CORP)
    before = bot.emulator.find_users("ada@example.com")[0]["PersonalPIN"]
    bot.emulator.inject("ResetPersonalPIN", fault)
    with pytest.raises(ChimeUnavailable) as lost:
        await directory.reset_personal_pin(corp, ADA)
    assert lost.value.effect_unknown
    assert sent(bot.emulator, "ResetPersonalPIN") == 1
    assert bot.emulator.find_users("ada@example.com")[0]["PersonalPIN"] != before


async def test_a_five_hundred_is_sent_once_by_the_client_itself(
    bot: OfflineBot, directory: Directory
) -> None:
    """botocore's standard mode would resend a 503 for any operation; the bot's client makes
    one attempt (bot/chime/client.py), so a non-idempotent call reaches Chime once."""
    corp = await account(directory, CORP)
    bot.emulator.inject("BatchSuspendUser", Fault("ServiceUnavailableException"))
    with pytest.raises(ChimeUnavailable):
        await directory.suspend_users(corp, [ADA])
    assert sent(bot.emulator, "BatchSuspendUser") == 1
    assert status(bot.emulator, "ada@example.com") == "Registered"


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("BatchUnsuspendUser", lambda d, a: d.unsuspend_users(a, [ADA])),
        ("LogoutUser", lambda d, a: d.logout_user(a, ADA)),
        ("UpdateUser", lambda d, a: d.update_license(a, ADA, "Basic")),
    ],
    ids=["unsuspend", "logout", "license"],
)
@pytest.mark.parametrize(
    "fault",
    [Fault("ServiceUnavailableException", applied=True), Fault("GarbledResponse", applied=True)],
    ids=lambda f: f.error,
)
async def test_repeatable_calls_are_sent_again_after_a_lost_answer(
    bot: OfflineBot, directory: Directory, operation: str, call: object, fault: Fault
) -> None:
    """A 200 that is not Chime's JSON (a proxy's page) is no answer either, not "done"."""
    corp = await account(directory, CORP)
    if operation == "BatchUnsuspendUser":
        await directory.suspend_users(corp, [ADA])
    bot.emulator.inject(operation, fault)

    await call(directory, corp)  # type: ignore[operator]

    assert sent(bot.emulator, operation) == 2, "sent again: a repeat changes nothing more"
    state = await directory.user_state(corp, ADA)
    if operation == "BatchUnsuspendUser":
        assert state.registration == "Registered"
    elif operation == "UpdateUser":
        assert state.license_type == "Basic"
    else:
        assert bot.emulator.sign_outs == [SignOut(CORP, ADA, "LogoutUser")] * 2


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("BatchSuspendUser", lambda d, a: d.suspend_users(a, [ADA])),
        ("ResetPersonalPIN", lambda d, a: d.reset_personal_pin(a, ADA)),
        ("UpdateUser", lambda d, a: d.update_license(a, ADA, "Basic")),
    ],
    ids=["suspend", "reset-pin", "license"],
)
async def test_throttling_is_retried_for_every_call(
    bot: OfflineBot, directory: Directory, operation: str, call: object
) -> None:
    """A 429 (ThrottledClientException, which botocore's own lists lack) means nothing
    happened: even the calls never repeated after a lost answer are sent again."""
    corp = await account(directory, CORP)
    bot.emulator.inject(operation, Fault("ThrottledClientException", times=2))
    await call(directory, corp)  # type: ignore[operator]
    assert sent(bot.emulator, operation) == 3


async def test_throttling_past_the_budget_says_nothing_changed(
    bot: OfflineBot, directory: Directory
) -> None:
    corp = await account(directory, CORP)
    bot.emulator.inject("BatchSuspendUser", Fault("ThrottledClientException", times=-1))
    with pytest.raises(ChimeThrottled) as throttled:
        await directory.suspend_users(corp, [ADA])
    assert not throttled.value.effect_unknown and "Nothing was changed" in (
        throttled.value.hint or ""
    )
    assert status(bot.emulator, "ada@example.com") == "Registered"


# ---- LogoutUser, UpdateUser, user_state ------------------------------------------------------


async def test_logout_signs_the_user_out_and_an_unknown_user_is_not_found(
    bot: OfflineBot, directory: Directory
) -> None:
    corp = await account(directory, CORP)
    await directory.logout_user(corp, ADA)
    assert bot.emulator.sign_outs == [SignOut(CORP, ADA, "LogoutUser")]
    with pytest.raises(ChimeNotFound):
        await directory.logout_user(corp, "nobody")


async def test_license_change_sends_only_the_license(bot: OfflineBot, directory: Directory) -> None:
    corp = await account(directory, CORP)
    bot.emulator.reset_calls()
    user = await directory.update_license(corp, ADA, "Basic")
    assert user.license_type == "Basic" and user.user_id == ADA
    (call,) = bot.emulator.calls
    assert call.params == {"AccountId": CORP, "UserId": ADA, "LicenseType": "Basic"}

    with pytest.raises(ChimeRejected) as refused:
        await directory.update_license(corp, ADA, "Plus")
    assert "supported: Basic, Pro" in refused.value.message
    assert (await directory.user_state(corp, ADA)).license_type == "Basic"


async def test_user_state_of_an_invited_user_and_of_nobody(directory: Directory) -> None:
    corp = await account(directory, CORP)
    assert (await directory.user_state(corp, GRACE)).registration == "Unregistered"
    assert (await directory.user_state(corp, "nobody")).absent


# ---- the PIN ---------------------------------------------------------------------------------


async def test_a_reset_pin_is_returned_but_never_printed_or_logged(
    bot: OfflineBot, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    corp = await account(directory, CORP)
    stream = io.StringIO()
    # The bot's own logging set-up at its most verbose: botocore's DEBUG lines hold bodies.
    logs.configure("DEBUG", "json", stream=stream)
    try:
        reset = await directory.reset_personal_pin(corp, ADA)
        log = logging.getLogger("chime_bot.test")
        log.info("reset %s %r %s", reset, reset, reset.pin)
        log.info(f"pin {reset.pin} {reset.pin!r} {reset.pin:>12}")
        try:
            raise RuntimeError(reset)
        except RuntimeError:
            log.exception("with the reset in an exception")
    finally:
        logs.configure("WARNING", "text")

    pin = bot.emulator.find_users("ada@example.com")[0]["PersonalPIN"]
    assert reset.pin.reveal() == pin, "the new PIN, for its owner's DM"
    assert reset.user.user_id == ADA
    shown = stream.getvalue() + repr(reset) + str(reset) + f"{reset.pin}" + caplog.text
    assert "reset" in stream.getvalue() and "SecretPin(" in shown
    assert pin not in shown and pin[:6] not in shown
    with pytest.raises(TypeError):
        json.dumps({"pin": reset.pin})
    with pytest.raises(TypeError):
        pickle.dumps(reset.pin)
    assert isinstance(reset.pin, SecretPin)
