"""The user lifecycle through the approval engine (issue 21), end to end over signed HTTP:
`/chime suspend`, `unsuspend`, `logout`, `license` and `reset-pin`, each filed, shown on its
card with the exact Chime call, decided with buttons built from that card, and run once against
the Chime emulator over HTTP; the store is SQLite or DynamoDB on moto.

Seed users (bot/offline/emulator/seed.json): Example Corp is EnterpriseLWA (ada, grace, alan,
barbara, edsger, margaret, donald), Example Team is a Team account (linus, tove), Example Labs
is EnterpriseOIDC (ken, mallory). The stand-in's people: the requester U0REQUESTER is
ada@example.com, the approver U0APPROVER is alan@example.com.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Change, InviteRequest, Status
from tests.approvals.test_app_home import home_text, open_home
from tests.approvals.test_invite import APPROVERS, click, dms_to, settle, the_card
from tests.blockkit import (
    all_text,
    assert_valid_message,
    mrkdwn_strings,
    plain_strings,
    unescaped_angle_brackets,
)
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import CHANNEL, REQUESTER

pytest_plugins = ("tests.dynamo",)

CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
TEAM = "7ea70000-5e3d-4b8a-9f21-000000000002"
GRACE = "a0000000-5e3d-4b8a-9f21-000000000002"
EDSGER = "a0000000-5e3d-4b8a-9f21-000000000006"
MARGARET = "a0000000-5e3d-4b8a-9f21-000000000007"
DONALD = "a0000000-5e3d-4b8a-9f21-000000000008"
LINUS = "a0000000-5e3d-4b8a-9f21-000000000101"
ADA = "a0000000-5e3d-4b8a-9f21-000000000001"


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    chosen: dict[str, object] = {"chime_approvers": ",".join(APPROVERS), "chime_retry_budget": 2.0}
    if request.param == "dynamodb":
        chosen["chime_store_url"] = f"dynamodb://{request.getfixturevalue('dynamo_table')}"
        chosen.update(TRUST_VIRTUAL_TIME)
    async with offline_bot(chosen, emulator=emulator, clock=clock) as running:
        yield running


async def command(bot: OfflineBot, text: str, user: str = REQUESTER) -> dict[str, Any]:
    exchange = await bot.sender.command(text, user_id=user, channel_id=CHANNEL)
    assert exchange.status == 200 and exchange.ack is None
    note = await exchange.reply()
    assert_valid_message(note)
    assert not unescaped_angle_brackets(note)
    await settle(bot)
    return note


async def every_request(bot: OfflineBot) -> list[InviteRequest]:
    found: list[InviteRequest] = []
    for status in Status:
        found += await bot.runtime.store.list_by_status(status)
    return sorted(found, key=lambda r: r.email)


def user_status(bot: OfflineBot, email: str) -> list[str]:
    return [str(u.get("UserRegistrationStatus")) for u in bot.emulator.find_users(email)]


CHANGE_CALLS = ("BatchSuspendUser", "BatchUnsuspendUser", "LogoutUser", "ResetPersonalPIN")


def change_calls(bot: OfflineBot) -> int:
    counts: list[int] = [bot.emulator.count(op) for op in (*CHANGE_CALLS, "UpdateUser")]
    return sum(counts)


# ---- suspend ---------------------------------------------------------------------------------


async def test_a_suspension_shows_the_exact_call_and_runs_it_once_on_approval(
    bot: OfflineBot,
) -> None:
    note = await command(bot, "suspend edsger@example.com left the company")
    assert "awaits approval" in all_text(note)
    card = the_card(bot)
    assert_valid_message(card.message)
    text = all_text(card.message)
    assert "BatchSuspendUser" in text and EDSGER in text and CORP in text
    assert "suspended and signed out" in text and "left the company" in text
    assert "new Amazon Chime user" not in text
    assert bot.emulator.count("BatchSuspendUser") == 0  # nothing before approval

    await click(bot, card, "Approve", DEMO_APPROVER)
    (call,) = [c for c in bot.emulator.calls if c.operation == "BatchSuspendUser"]
    assert call.params["UserIdList"] == [EDSGER]
    assert user_status(bot, "edsger@example.com") == ["Suspended"]
    final = all_text(card.current)
    assert "Suspended and signed out" in final and buttons(card.current) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert "suspension request" in all_text(dm) and "approved" in all_text(dm)
    (request,) = await every_request(bot)
    assert request.change == Change.SUSPEND and request.status == Status.APPROVED
    trail = [e.action for e in await bot.runtime.store.audit_trail(request.id)]
    assert trail == ["filed", "approve_claimed", "approved"]


async def test_a_double_click_and_a_rival_approver_make_one_suspension(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    card = the_card(bot)
    message = card.current

    exchanges = await asyncio.gather(
        *(
            bot.sender.click(message, "Approve", user_id=user, channel_id=card.channel)
            for user in (DEMO_APPROVER, DEMO_APPROVER, "U0APPROVER2")
        )
    )
    assert all(e.status == 200 for e in exchanges)
    await settle(bot)
    assert bot.emulator.count("BatchSuspendUser") == 1


async def test_a_team_suspension_says_it_removes_them_and_keeps_their_login(
    bot: OfflineBot,
) -> None:
    await command(bot, "suspend linus@example.org")
    card = the_card(bot)
    text = all_text(card.message)
    assert "removed from the Team account" in text and "free Chime login" in text
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("BatchSuspendUser") == 1
    assert "Removed from the Team account" in all_text(card.current)


async def test_several_addresses_are_one_card_and_one_call_and_a_user_error_is_that_ones_failure(
    bot: OfflineBot,
) -> None:
    bot.emulator.set_user_error("BatchSuspendUser", MARGARET, "Forbidden", "not allowed here")
    await command(bot, "suspend edsger@example.com margaret@example.com donald@example.com")
    card = the_card(bot)
    assert_valid_message(card.message)
    assert "3 addresses" in all_text(card.message)
    await click(bot, card, "Approve all 3", DEMO_APPROVER)
    (call,) = [c for c in bot.emulator.calls if c.operation == "BatchSuspendUser"]
    assert sorted(call.params["UserIdList"]) == sorted([EDSGER, MARGARET, DONALD])
    by_email = {r.email: r for r in await every_request(bot)}
    assert by_email["margaret@example.com"].status == Status.FAILED
    error = str(by_email["margaret@example.com"].error)
    assert "Forbidden" in error and "not allowed here" in error
    assert {by_email[e].status for e in ("edsger@example.com", "donald@example.com")} == {
        Status.APPROVED
    }
    shown = all_text(card.current)
    assert "2 done, 1 failed" in shown
    # Retry sends only the failed one, once the error is gone.
    bot.emulator.clear_user_errors()
    await click(bot, card, "Retry the 1 that failed", DEMO_APPROVER)
    retried = [c for c in bot.emulator.calls if c.operation == "BatchSuspendUser"][1:]
    assert [c.params["UserIdList"] for c in retried] == [[MARGARET]]
    assert user_status(bot, "margaret@example.com") == ["Suspended"]


async def test_a_lost_answer_is_settled_by_looking_not_by_calling_again(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    card = the_card(bot)
    bot.emulator.inject("BatchSuspendUser", Fault("ServiceFailureException", applied=True))
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("BatchSuspendUser") == 1
    (request,) = await every_request(bot)
    assert request.status == Status.APPROVED
    assert "confirmed by looking" in all_text(card.current)


async def test_a_lost_answer_without_effect_fails_and_retry_runs_it_once(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    card = the_card(bot)
    bot.emulator.inject("BatchSuspendUser", Fault("ServiceFailureException"))
    await click(bot, card, "Approve", DEMO_APPROVER)
    (request,) = await every_request(bot)
    assert request.status == Status.FAILED
    assert "did not take effect" in str(request.error)
    await click(bot, card, "Retry", DEMO_APPROVER)
    assert bot.emulator.count("BatchSuspendUser") == 2
    assert user_status(bot, "edsger@example.com") == ["Suspended"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("suspend nobody@example.com", "No Amazon Chime account has a user with"),
        ("suspend ken@example.net", "Okta"),  # EnterpriseOIDC: managed in the directory
        ("unsuspend linus@example.org", "invite them again"),
        ("unsuspend edsger@example.com", "is not suspended"),
        ("license edsger@example.com Plus", "supports Basic, Pro"),
        ("license edsger@example.com Basic", "already has the Basic license"),
        ("suspend edsger@example.com linus@example.org", "different Amazon Chime accounts"),
    ],
)
async def test_what_can_be_said_before_filing_is_said_and_nothing_is_filed(
    bot: OfflineBot, text: str, said: str
) -> None:
    note = await command(bot, text)
    assert said in all_text(note)
    assert "Nothing was filed" in all_text(note)
    assert await every_request(bot) == []
    assert [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
    assert change_calls(bot) == 0


async def test_suspending_someone_already_suspended_is_said_before_filing(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    note = await command(bot, "suspend edsger@example.com")
    assert "already suspended" in all_text(note)
    assert bot.emulator.count("BatchSuspendUser") == 1


async def test_a_second_open_suspension_is_a_duplicate_but_an_open_invite_does_not_block_it(
    bot: OfflineBot,
) -> None:
    await command(bot, "suspend edsger@example.com")
    again = await command(bot, "suspend edsger@example.com", user="U0APPROVER3")
    assert "already has an open request" in all_text(again)
    requests = await every_request(bot)
    assert len(requests) == 1
    # A license change for the same person is another kind of change: it is filed.
    other = await command(bot, "license edsger@example.com Pro")
    assert "awaits approval" in all_text(other)


# ---- unsuspend, logout, license ---------------------------------------------------------------


async def test_unsuspend_brings_a_suspended_enterprise_user_back(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    await command(bot, "unsuspend edsger@example.com back from leave")
    cards = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    card = cards[-1]
    assert "BatchUnsuspendUser" in all_text(card.message)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("BatchUnsuspendUser") == 1
    assert user_status(bot, "edsger@example.com") == ["Registered"]
    assert "Unsuspended" in all_text(card.current)


async def test_logout_signs_out_once_on_approval(bot: OfflineBot) -> None:
    await command(bot, "logout edsger@example.com lost laptop")
    card = the_card(bot)
    assert "LogoutUser" in all_text(card.message)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("LogoutUser") == 1
    assert "Signed out of every device" in all_text(card.current)


async def test_license_change_runs_update_user_with_the_license(bot: OfflineBot) -> None:
    await command(bot, "license edsger@example.com pro promoted")
    card = the_card(bot)
    text = all_text(card.message)
    assert "UpdateUser" in text and "LicenseType" in text and "Pro" in text
    await click(bot, card, "Approve", DEMO_APPROVER)
    (call,) = [c for c in bot.emulator.calls if c.operation == "UpdateUser"]
    assert call.params["LicenseType"] == "Pro"
    assert [u["LicenseType"] for u in bot.emulator.find_users("edsger@example.com")] == ["Pro"]
    assert "The license is now Pro" in all_text(card.current)


async def test_a_denied_change_changes_nothing(bot: OfflineBot) -> None:
    await command(bot, "suspend edsger@example.com")
    card = the_card(bot)
    await click(bot, card, "Deny", DEMO_APPROVER)
    assert change_calls(bot) == 0
    assert "Nothing was changed" in all_text(card.current)
    (dm,) = dms_to(bot, REQUESTER)
    assert "denied" in all_text(dm)


# ---- every view says what is asked ------------------------------------------------------------


async def test_app_home_pending_and_the_confirm_dialog_say_it_is_a_suspension(
    bot: OfflineBot,
) -> None:
    await command(bot, "suspend edsger@example.com")
    view = await open_home(bot, DEMO_APPROVER)
    text = home_text(view)
    assert "suspend (BatchSuspendUser): edsger@example.com" in text
    assert "This will suspend edsger@example.com in Example Corp, once." in text
    assert "PrivateUser" not in text
    listed = await command(bot, "pending", user=DEMO_APPROVER)
    assert "suspend (BatchSuspendUser): edsger@example.com" in all_text(listed)
    # Approved from App Home, it runs once like a click on the card.
    exchange = await bot.sender.click_home("Approve", user_id=DEMO_APPROVER)
    assert exchange.status == 200
    await settle(bot)
    assert bot.emulator.count("BatchSuspendUser") == 1


# ---- the policy file says which actions need approval ----------------------------------------


@pytest.fixture
async def loose_bot(
    tmp_path: Path, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    """Example Corp signs people out and suspends them without approval, and wants one even
    for your own PIN."""
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "accounts:\n"
        "  Example Corp:\n"
        "    actions: {logout: none, suspend: none, reset_pin_self: approval}\n",
        encoding="utf-8",
    )
    chosen = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_retry_budget": 2.0,
        "chime_policy_file": str(policy),
    }
    async with offline_bot(chosen, emulator=emulator, clock=clock) as running:
        yield running


async def test_an_action_the_policy_runs_without_approval_runs_at_once_and_is_audited(
    loose_bot: OfflineBot,
) -> None:
    note = await command(loose_bot, "logout edsger@example.com lost phone")
    assert loose_bot.emulator.count("LogoutUser") == 1
    assert "Signed out of every device" in all_text(note)
    assert "policy needs no approval" in all_text(note) and "approved by" not in all_text(note)
    assert [m for m in loose_bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
    (request,) = await every_request(loose_bot)
    trail = await loose_bot.runtime.store.audit_trail(request.id)
    assert [(e.action, e.actor) for e in trail] == [
        ("filed", REQUESTER),
        ("ran_without_approval", REQUESTER),
        ("approved", REQUESTER),
    ]


async def test_the_policy_can_require_approval_even_for_your_own_pin(loose_bot: OfflineBot) -> None:
    note = await command(loose_bot, "reset-pin ada@example.com")
    assert "awaits approval" in all_text(note)
    assert loose_bot.emulator.count("ResetPersonalPIN") == 0
    # Other accounts keep the safe default: a suspension there still needs approval.
    await command(loose_bot, "suspend linus@example.org")
    assert loose_bot.emulator.count("BatchSuspendUser") == 0


async def test_a_reason_built_to_forge_formatting_reaches_the_card_as_plain_text(
    bot: OfflineBot,
) -> None:
    await command(
        bot, "suspend edsger@example.com &lt;!channel&gt; *urgent* &lt;https://x.test|ok&gt;"
    )
    card = the_card(bot)
    assert_valid_message(card.message)
    assert not unescaped_angle_brackets(card.message)
    assert not [m for m in mrkdwn_strings(card.message) if "channel" in m or "urgent" in m]
    # Shown as typed, as plain text (a link is broken by a word joiner, as everywhere).
    assert any(p.startswith("“<!channel> *urgent* <https:") for p in plain_strings(card.message))


async def test_several_addresses_the_policy_runs_without_approval_are_one_call(
    loose_bot: OfflineBot,
) -> None:
    note = await command(loose_bot, "suspend edsger@example.com margaret@example.com")
    (call,) = [c for c in loose_bot.emulator.calls if c.operation == "BatchSuspendUser"]
    assert sorted(call.params["UserIdList"]) == sorted([EDSGER, MARGARET])
    assert "2 done" in all_text(note)
    assert user_status(loose_bot, "margaret@example.com") == ["Suspended"]
    assert {r.status for r in await every_request(loose_bot)} == {Status.APPROVED}
