"""Chime failures over real HTTP: retries, give-up within the budget, and plain-language replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import ChimeBackend, OfflineBot, offline_bot
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    async with offline_bot(emulator=emulator, clock=clock) as running:
        yield running


async def card_for(bot: OfflineBot, text: str = "user ada@example.com") -> dict[str, Any]:
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200
    assert exchange.ack is None
    card = await exchange.reply()
    assert_valid_message(card)
    return card


@pytest.mark.parametrize(
    "error", ["ThrottledClientException", "ServiceUnavailableException", "ServiceFailureException"]
)
async def test_two_transient_errors_then_success_still_give_the_card(
    bot: OfflineBot, clock: VirtualClock, error: str
) -> None:
    bot.emulator.inject("ListAccounts", Fault(error, times=2))
    card = await card_for(bot)
    assert "Ada Lovelace" in all_text(card)
    assert bot.emulator.count("ListAccounts") == 3
    assert len(clock.slept) == 2


async def test_permanent_503_gives_a_clear_error_within_the_budget(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    bot.emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    # The ack went out before the retries: it carries nothing and no reply has been sent yet.
    assert exchange.status == 200 and exchange.ack is None
    card = await exchange.reply()
    assert "not answering" in card["text"]
    assert "Try again" in all_text(card)
    attempts = bot.emulator.count("ListAccounts")
    assert attempts >= 4, "it should keep trying for most of the budget"
    # Every retry started inside the lookup budget (virtual time: backoff sleeps only).
    assert sum(clock.slept) < bot.runtime.settings.chime_lookup_budget
    assert len(clock.slept) == attempts - 1


async def test_ack_is_immediate_even_when_chime_is_slow(bot: OfflineBot) -> None:
    bot.emulator.set_latency(0.5, "ListAccounts")
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert exchange.status == 200
    assert bot.slack.responses[exchange.response_id] == [], "card must come after the ack"
    card = await exchange.reply()
    assert "Ada Lovelace" in all_text(card)


@pytest.mark.parametrize("error", ["ForbiddenException", "UnauthorizedClientException"])
async def test_permission_errors_name_the_iam_action(
    bot: OfflineBot, clock: VirtualClock, error: str
) -> None:
    bot.emulator.inject("GetUser", Fault(error))
    card = await card_for(bot)
    text = all_text(card)
    assert "not allowed" in text
    assert "chime:GetUser" in text
    assert clock.slept == [], "permission errors are not retried"


async def test_not_found_from_chime_says_not_found(bot: OfflineBot) -> None:
    bot.emulator.inject("GetUser", Fault("NotFoundException"))
    card = await card_for(bot)
    assert "Not found" in card["text"]


async def test_bad_request_says_the_request_was_rejected(bot: OfflineBot) -> None:
    bot.emulator.inject("ListAccounts", Fault("BadRequestException", message="odd <input>"))
    card = await card_for(bot)
    assert "rejected" in card["text"]
    assert "odd &lt;input&gt;" in all_text(card)


async def test_unexpected_failure_gets_an_error_id_that_is_in_the_log(
    bot: OfflineBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.emulator.inject("GetUser", Fault("GarbledResponse"))
    card = await card_for(bot)
    text = all_text(card)
    assert "Something went wrong" in text
    error_id = text.split("Error ID `")[1].split("`")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None, "traceback is logged with the ID"
    assert "proxy error" not in text, "internals stay out of Slack"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("Throttling", 400),
        ("RequestLimitExceeded", 503),
        ("SomeNewThrottleName", 429),  # any 429, whatever its code
    ],
)
async def test_any_throttling_error_is_retried_with_backoff(
    bot: OfflineBot, clock: VirtualClock, error: str, status: int
) -> None:
    bot.emulator.inject("ListAccounts", Fault(error, times=2, http_status=status))
    card = await card_for(bot)
    assert "Ada Lovelace" in all_text(card)
    assert bot.emulator.count("ListAccounts") == 3
    assert len(clock.slept) == 2 and all(0 <= s <= 4.0 for s in clock.slept)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("UnrecognizedClientException", 403),
        ("InvalidSignatureException", 403),
        ("ExpiredTokenException", 403),
        ("MissingAuthenticationToken", 403),
        ("IncompleteSignature", 400),
        ("InvalidClientTokenId", 403),
    ],
)
async def test_credential_errors_say_the_credentials_are_the_problem(
    bot: OfflineBot,
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
    error: str,
    status: int,
) -> None:
    bot.emulator.inject("ListAccounts", Fault(error, http_status=status))
    card = await card_for(bot)
    text = all_text(card)
    assert "credentials are missing, invalid or expired" in text
    assert error in text
    assert "AWS_PROFILE" in text and "chime-bot check" in text, "the reply says how to fix it"
    assert "rejected the request" not in text
    assert clock.slept == [] and bot.emulator.count("ListAccounts") == 1
    logged = [r.getMessage() for r in caplog.records if "credentials" in r.getMessage()]
    assert any(error in m and "AWS_PROFILE" in m for m in logged), logged


async def test_no_credentials_at_all_says_so(emulator: ChimeEmulator) -> None:
    await emulator.start()
    try:
        # The standard chain with nothing in it (conftest empties the environment).
        backend = ChimeBackend(endpoint=emulator.url, credentials=None)
        async with offline_bot(chime=backend) as bot:
            card = await card_for(bot)
    finally:
        await emulator.stop()
    text = all_text(card)
    assert "credentials are missing, invalid or expired" in text
    assert "NoCredentialsError" in text
    assert emulator.count() == 0


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("AccessDeniedException", 403),
        ("AccessDenied", 403),
        ("Forbidden", 403),
        ("SomethingElseDenied", 403),  # any 403 that is not a credentials code
    ],
)
async def test_access_denied_names_the_iam_action(
    bot: OfflineBot, clock: VirtualClock, error: str, status: int
) -> None:
    bot.emulator.inject("ListUsers", Fault(error, http_status=status))
    card = await card_for(bot)
    text = all_text(card)
    assert "not allowed" in text and "chime:ListUsers" in text
    assert clock.slept == []


async def test_unmodeled_5xx_is_retried(bot: OfflineBot, clock: VirtualClock) -> None:
    bot.emulator.inject("GetUser", Fault("InternalFailure", times=1, http_status=502))
    card = await card_for(bot)
    assert "Ada Lovelace" in all_text(card)
    assert len(clock.slept) == 1
