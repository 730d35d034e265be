"""Choosing the account for an invite: the bot's own exact, case-insensitive match over every
page of accounts; near misses file nothing; suspended and directory-managed accounts refused.

The emulator's ListAccounts Name filter is a case-sensitive prefix (the strictest reading of the
model), so any dependence on the service's filter shows up here.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.chime.directory import ACCOUNT_RECHECK_AFTER
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import click, invite, only_request, the_card
from tests.blockkit import all_text, literal_problems, plain_strings
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    async with offline_bot(emulator=emulator, clock=clock) as running:
        yield running


async def nothing_filed(bot: OfflineBot) -> None:
    assert bot.slack.calls_to("chat.postMessage") == []
    for status in Status:
        assert await bot.runtime.store.list_by_status(status) == []


def name_filters(bot: OfflineBot) -> list[Any]:
    assert bot.emulator is not None
    return [c.params.get("Name") for c in bot.emulator.calls if c.operation == "ListAccounts"]


@pytest.mark.parametrize("typed", ["example corp", "EXAMPLE CORP", "Example Corp"])
async def test_name_matches_exactly_in_any_case(bot: OfflineBot, typed: str) -> None:
    note = await invite(bot, f'new@example.com --account "{typed}"')
    assert "awaits approval" in note["text"]
    assert "Example Corp" in all_text(the_card(bot).message)
    assert set(name_filters(bot)) == {None}, "the service's Name filter is never used"


async def test_account_on_a_later_page_is_found_and_the_list_is_cached(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    for i in range(120):  # more than one page of ListAccounts (100 by default)
        emulator.add_account(name=f"Filler {i:03}")
    emulator.add_account(name="Far Away Corp")
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, 'far@example.com --account "far away corp"')
        assert "awaits approval" in note["text"]
        listed = [c for c in emulator.calls if c.operation == "ListAccounts"]
        assert len([c for c in listed if c.params.get("NextToken")]) >= 1, "read every page"
        emulator.reset_calls()
        await invite(bot, 'far2@example.com --account "Far Away Corp"')
        whole_list = [
            c
            for c in emulator.calls
            if c.operation == "ListAccounts" and "UserEmail" not in c.params
        ]
        assert whole_list == [], "the account list is reused for a short while"


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Eng", ["Engineering"]),
        ("Example", ["Example Corp", "Example Team"]),
        ("Enginering", ["Engineering"]),
        ("corp", ["Example Corp"]),
    ],
)
async def test_prefix_or_near_miss_files_nothing_and_lists_near_names(
    emulator: ChimeEmulator, clock: VirtualClock, typed: str, suggested: list[str]
) -> None:
    emulator.add_account(name="Engineering")
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, f"near@example.com --account {typed}")
        text = all_text(note)
        assert "No Chime account is named exactly" in text
        for name in suggested:
            assert name in text
        await nothing_filed(bot)


async def test_unknown_name_lists_the_accounts(bot: OfflineBot) -> None:
    note = await invite(bot, "x@example.com --account Zzyzx")
    assert "No Chime account is named" in all_text(note) and "Example Team" in all_text(note)
    await nothing_filed(bot)


async def test_suspended_account_is_refused_by_name(bot: OfflineBot) -> None:
    bot.emulator.set_account_status(CORP, "Suspended")
    note = await invite(bot, 'x@example.com --account "Example Corp"')
    assert "suspended" in all_text(note)
    await nothing_filed(bot)


async def test_suspended_default_account_is_never_used(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    emulator.set_account_status(CORP, "Suspended")
    async with offline_bot(
        {"chime_default_account": "Example Corp"}, emulator=emulator, clock=clock
    ) as bot:
        note = await invite(bot, "x@example.com")
        assert "suspended" in all_text(note)
        await nothing_filed(bot)


async def test_a_lone_suspended_account_is_not_the_default(clock: VirtualClock) -> None:
    emulator = ChimeEmulator({"accounts": []})
    emulator.add_account(name="Only Corp", account_status="Suspended")
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, "x@example.com")
        assert "suspended" in all_text(note)
        await nothing_filed(bot)


async def test_lookup_in_a_suspended_account_shows_it_on_the_card(bot: OfflineBot) -> None:
    bot.emulator.set_account_status(CORP, "Suspended")
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    card = await exchange.reply()
    text = all_text(card)
    assert "Ada Lovelace" in text and "suspended" in text


async def test_active_account_card_does_not_say_suspended(bot: OfflineBot) -> None:
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "suspended" not in all_text(await exchange.reply())


@pytest.mark.parametrize(
    ("account_type", "explains"),
    [("EnterpriseOIDC", "Okta"), ("EnterpriseDirectory", "Active Directory")],
)
async def test_directory_accounts_are_refused_with_the_guides_explanation(
    emulator: ChimeEmulator, clock: VirtualClock, account_type: str, explains: str
) -> None:
    emulator.add_account(name="Managed Corp", account_type=account_type)
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, 'x@example.com --account "Managed Corp"')
        text = all_text(note)
        assert explains in text and "nothing was filed" in text
        assert "Administration Guide" in text
        await nothing_filed(bot)
        assert emulator.count("CreateUser") == 0


async def test_account_names_from_chime_cannot_forge_formatting(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    emulator.add_account(name="Evil <!channel> *Corp*")
    emulator.add_account(
        name="Shady <@U0ADMIN>",
        account_id="5aad0000-0000-0000-0000-000000000001",
        account_status="Suspended",
    )
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        # `invite` also checks that no reply carries an unescaped < or >.
        near = await invite(bot, "x@example.com --account Evil")
        assert any("Evil <!channel> *Corp*" in text for text in plain_strings(near))
        assert literal_problems(near) == []
        suspended = await invite(
            bot, "x@example.com --account 5aad0000-0000-0000-0000-000000000001"
        )
        assert "suspended" in all_text(suspended)
        assert any("Shady <@U0ADMIN>" in text for text in plain_strings(suspended))
        assert literal_problems(suspended) == []
        await nothing_filed(bot)


async def test_account_suspended_after_filing_is_not_used_at_approval(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        await invite(bot, 'later@example.com --account "Example Corp"')
        emulator.set_account_status(CORP, "Suspended")
        clock.advance(60)  # past the short account-list cache
        await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
        request = await only_request(bot)
        assert request.status == Status.FAILED and "suspended" in (request.error or "")
        assert emulator.count("CreateUser") == 0
        assert "suspended" in all_text(the_card(bot).current)


class LongestBackoff(random.Random):
    """Every retry waits as long as the policy allows: the slowest run a user could meet."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_the_approvals_account_check_gets_the_approval_budget_not_the_lookup_one(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        bot.runtime.deps.directory.calls.rng = LongestBackoff()
        await invite(bot, 'patient@example.com --account "Example Corp"')
        clock.advance(60)  # past the short account-list cache: approval reads the list again
        # Seven throttled answers cost 0.25+0.5+1+2+4+4+4 = 15.75 s of backoff: over the 6 s a
        # waiting user gets, inside the 20 s an approval may spend.
        emulator.inject("ListAccounts", Fault("ThrottledClientException", times=7))
        await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
        request = await only_request(bot)
        assert request.status == Status.APPROVED, request.error
        assert emulator.count("CreateUser") == 1
        settings = bot.runtime.settings
        assert settings.chime_lookup_budget < sum(clock.slept) < settings.chime_retry_budget


def created_in(emulator: ChimeEmulator) -> list[str]:
    """The AccountId of every CreateUser the emulator served."""
    return [c.params.get("AccountId", "") for c in emulator.calls if c.operation == "CreateUser"]


async def test_an_account_id_is_an_id_even_when_another_account_is_named_like_it(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    # Chime names are free text: nothing stops an account being named like another's ID.
    impostor = emulator.add_account(name=CORP)["AccountId"]
    assert impostor != CORP
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        note = await invite(bot, f"by.id@example.com --account {CORP}")
        assert "awaits approval" in note["text"]
        request = await only_request(bot)
        assert request.account_id == CORP and request.account_name == "Example Corp"
        await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
        assert (await only_request(bot)).status == Status.APPROVED
        assert created_in(emulator) == [CORP], "CreateUser went to the account with that ID"


def whole_list_reads(emulator: ChimeEmulator) -> int:
    return len(
        [c for c in emulator.calls if c.operation == "ListAccounts" and "UserEmail" not in c.params]
    )


async def test_an_account_created_after_the_list_was_read_is_found(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        await invite(bot, 'first@example.com --account "Example Corp"')  # the list is read
        emulator.add_account(name="Brand New Corp")
        # A few seconds on, well inside the list's 30 s: the miss reads it again, once.
        clock.advance(ACCOUNT_RECHECK_AFTER + 1)
        emulator.reset_calls()
        note = await invite(bot, 'second@example.com --account "Brand New Corp"')
        assert "awaits approval" in note["text"], all_text(note)
        assert whole_list_reads(emulator) == 1
        newer = emulator.add_account(name="Newer Still")["AccountId"]
        clock.advance(ACCOUNT_RECHECK_AFTER + 1)
        note = await invite(bot, f"third@example.com --account {newer}")
        assert "awaits approval" in note["text"], all_text(note)
        filed = {r.email: r.account_name for r in await bot.runtime.store.list_open(now=0)}
        assert filed["second@example.com"] == "Brand New Corp"
        assert filed["third@example.com"] == "Newer Still"


async def test_a_name_that_misses_reads_the_list_again_at_most_once_in_a_few_seconds(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        await invite(bot, 'first@example.com --account "Example Corp"')
        emulator.reset_calls()
        for _ in range(3):  # the list is fresh: nothing newer to learn
            assert "No Chime account" in all_text(await invite(bot, "x@example.com --account Zz"))
        assert whole_list_reads(emulator) == 0
        clock.advance(ACCOUNT_RECHECK_AFTER + 1)
        for _ in range(3):
            assert "No Chime account" in all_text(await invite(bot, "x@example.com --account Zz"))
        assert whole_list_reads(emulator) == 1
        await nothing_filed_for(bot, "x@example.com")


async def nothing_filed_for(bot: OfflineBot, email: str) -> None:
    for status in Status:
        assert all(r.email != email for r in await bot.runtime.store.list_by_status(status))
