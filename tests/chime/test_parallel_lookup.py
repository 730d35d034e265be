"""A cold lookup's parallel search (bot/chime/lookup.py): the same answers in one round trip less,
and never a user from an account that ListAccounts(UserEmail) does not name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config.settings import ConfigError, load_settings
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import OfflineBot, offline_bot
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
TEAM = "7ea70000-5e3d-4b8a-9f21-000000000002"
LABS = "1ab50000-5e3d-4b8a-9f21-000000000003"
SEEDED = {CORP, TEAM, LABS}


async def card_for(bot: OfflineBot, email: str) -> dict[str, Any]:
    exchange = await bot.sender.command(f"user {email}", user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200
    card = await exchange.reply()
    assert_valid_message(card)
    return card


async def warm(bot: OfflineBot) -> None:
    """Lookups that show the bot a user in each seeded account: it now searches all three.
    The users are extra ones, so every seeded email is still a cold lookup afterwards."""
    assert bot.emulator is not None
    for account in sorted(SEEDED):
        email = f"warm-{account[:4]}@example.com"
        if not bot.emulator.find_users(email):
            bot.emulator.add_user(account, email=email, display_name="Warm")
        await card_for(bot, email)


@pytest.fixture
async def fast(emulator: ChimeEmulator) -> AsyncIterator[OfflineBot]:
    """A bot that knows the account list, so its next cold lookup searches in parallel."""
    async with offline_bot(emulator=emulator) as bot:
        await warm(bot)
        emulator.reset_calls()
        yield bot


def ops(emulator: ChimeEmulator) -> list[str]:
    return [c.operation for c in emulator.calls]


async def test_the_first_lookup_is_sequential_and_the_next_searches_where_it_found(
    emulator: ChimeEmulator,
) -> None:
    async with offline_bot(emulator=emulator) as bot:
        emulator.latency_for("ListAccounts", 0.3, times=2)
        await card_for(bot, "grace@example.com")
        assert ops(emulator) == ["ListAccounts", "ListUsers", "GetUser"]
        emulator.reset_calls()
        card = await card_for(bot, "ada@example.com")
    assert "Ada Lovelace" in all_text(card)
    # The emulator logs a call when it answers: the search in Corp was sent before
    # ListAccounts(UserEmail) answered.
    assert ops(emulator) == ["ListUsers", "ListAccounts", "GetUser"]
    assert emulator.calls[0].params["AccountId"] == CORP


async def test_search_runs_while_list_accounts_is_still_answering(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    # The emulator logs a call when it answers: ListAccounts held back, the searches answer
    # first only if they were sent before ListAccounts' answer came.
    emulator.latency_for("ListAccounts", 0.5, times=1)
    card = await card_for(fast, "ada@example.com")
    assert "Ada Lovelace" in all_text(card)
    assert ops(emulator) == ["ListUsers"] * 3 + ["ListAccounts", "GetUser"]
    assert {c.params["AccountId"] for c in emulator.calls[:3]} == SEEDED
    assert emulator.calls[3].params["UserEmail"] == "ada@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "LINUS@example.org",
        "tove@example.org",
        "ken@example.net",
        "mallory@example.net",
        "nobody@example.com",
    ],
)
async def test_parallel_answer_is_the_sequential_answer(
    emulator: ChimeEmulator, email: str
) -> None:
    async with offline_bot({"chime_lookup_parallel_accounts": 0}, emulator=emulator) as slow:
        sequential = await card_for(slow, email)
    async with offline_bot(emulator=emulator) as bot:
        await warm(bot)
        emulator.reset_calls()
        parallel = await card_for(bot, email)
    assert emulator.count("ListUsers") == 3, "the known accounts were searched in parallel"
    assert parallel == sequential


async def test_a_user_list_accounts_does_not_confirm_is_never_shown(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    # ListUsers in Labs finds ken, but ListAccounts(UserEmail) names no account for him.
    emulator.set_email_index("ken@example.net", [])
    card = await card_for(fast, "ken@example.net")
    assert "No Chime user with the email" in card["text"]
    assert "Ken Thompson" not in all_text(card)
    assert emulator.count("GetUser") == 0


async def test_only_the_confirmed_account_answers_when_two_searches_find_the_email(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    emulator.add_user(LABS, email="twin@example.com", display_name="Labs Twin")
    emulator.add_user(TEAM, email="twin@example.com", display_name="Team Twin")
    emulator.set_email_index("twin@example.com", [TEAM])
    text = all_text(await card_for(fast, "twin@example.com"))
    assert "Team Twin" in text and "Example Team" in text
    assert "Labs Twin" not in text
    assert [c.params["AccountId"] for c in emulator.calls if c.operation == "GetUser"] == [TEAM]


async def test_an_account_named_but_not_holding_the_user_gives_not_found(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    # The reverse: ListAccounts(UserEmail) names Corp, ListUsers there finds no one.
    emulator.set_email_index("gone@example.com", [CORP])
    card = await card_for(fast, "gone@example.com")
    assert "No Chime user with the email" in card["text"]
    assert emulator.count("GetUser") == 0


async def test_an_account_new_since_the_list_was_fetched_is_searched_then(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    new = emulator.add_account(name="Example New")
    emulator.add_user(new["AccountId"], email="newbie@example.com", display_name="New Bie")
    text = all_text(await card_for(fast, "newbie@example.com"))
    assert "New Bie" in text and "Example New" in text
    searched = [c.params["AccountId"] for c in emulator.calls if c.operation == "ListUsers"]
    assert set(searched) == SEEDED | {new["AccountId"]}
    assert searched[-1] == new["AccountId"], "searched after ListAccounts named it"


async def test_more_accounts_than_the_cap_take_the_sequential_path(
    emulator: ChimeEmulator,
) -> None:
    async with offline_bot({"chime_lookup_parallel_accounts": 2}, emulator=emulator) as bot:
        await warm(bot)
        emulator.reset_calls()
        emulator.latency_for("ListAccounts", 0.2, times=1)
        card = await card_for(bot, "ken@example.net")
    assert "Ken Thompson" in all_text(card)
    assert ops(emulator) == ["ListAccounts", "ListUsers", "GetUser"]


async def test_searches_that_fail_for_a_moment_are_retried(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    emulator.inject("ListUsers", Fault("ServiceUnavailableException", times=3))
    card = await card_for(fast, "ken@example.net")
    assert "Ken Thompson" in all_text(card)


async def test_searches_refused_for_good_get_the_permission_answer(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    # As on the sequential path: the refused ListUsers in the account that holds ken is the
    # answer; the refusals in the other accounts do not add to it or break it.
    emulator.inject("ListUsers", Fault("ForbiddenException", times=3))
    card = await card_for(fast, "ken@example.net")
    assert "Ken Thompson" not in all_text(card)
    assert "chime:ListUsers" in all_text(card)
    assert emulator.count("GetUser") == 0


async def test_list_accounts_failing_ends_the_lookup_with_a_clear_answer(
    emulator: ChimeEmulator, fast: OfflineBot
) -> None:
    emulator.inject("ListAccounts", Fault("ForbiddenException"))
    card = await card_for(fast, "ada@example.com")
    assert "Ada Lovelace" not in all_text(card)
    assert "chime:ListAccounts" in all_text(card)
    assert emulator.count("GetUser") == 0


async def test_searches_failing_for_good_end_within_the_lookup_budget(
    emulator: ChimeEmulator,
) -> None:
    # Virtual time: backoff sleeps advance the clock at once, so the budget is reached fast.
    clock = VirtualClock()
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        await warm(bot)
        emulator.reset_calls()
        started = clock.monotonic()
        emulator.inject("ListUsers", Fault("ServiceUnavailableException", times=-1))
        card = await card_for(bot, "ken@example.net")
    text = all_text(card)
    assert "Ken Thompson" not in text and "Error ID" not in text
    assert "Amazon Chime" in card["text"]  # not answering, or paused by the circuit breaker
    assert emulator.count("GetUser") == 0
    # The three searches back off on one shared clock, each for less than the lookup's budget
    # counted from the lookup's start (a budget each from its own start would allow more).
    assert 0 < clock.monotonic() - started < 3 * bot.runtime.settings.chime_lookup_budget


@pytest.mark.parametrize("value", ["-1", "51", "five"])
def test_a_bad_parallel_account_cap_is_a_clear_config_problem(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings("serve", chime_lookup_parallel_accounts=value)
    assert "CHIME_LOOKUP_PARALLEL_ACCOUNTS" in raised.value.render()
