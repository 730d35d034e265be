"""Bulk invites (`/chime invite a@x.com b@y.com …`), end to end over signed HTTP.

One request per address sharing one card (bot/approvals/batches.py): clicks are built from the card
the bot posted to the Slack stand-in, Chime is the emulator over HTTP, and the store is SQLite or
DynamoDB on moto.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.cards.batch import batch_card, batch_filed_note, batch_outcome_note
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Status, new_request_id
from tests.approvals.test_app_home import home_text, open_home
from tests.approvals.test_invite import APPROVERS, click, dms_to, invite, the_card
from tests.blockkit import all_text, assert_valid_message
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import CHANNEL, REQUESTER

TEAM = '--account "Example Team"'
CORP = '--account "Example Corp"'


def overrides(request: pytest.FixtureRequest, **more: object) -> dict[str, object]:
    """The bot's settings on the store `request.param` names (sqlite or dynamodb)."""
    chosen: dict[str, object] = {"chime_approvers": ",".join(APPROVERS), "chime_retry_budget": 2.0}
    if request.param == "dynamodb":
        chosen["chime_store_url"] = f"dynamodb://{request.getfixturevalue('dynamo_table')}"
        chosen.update(TRUST_VIRTUAL_TIME)
    return {**chosen, **more}


@pytest.fixture(params=["sqlite", "dynamodb"])
async def bot(
    request: pytest.FixtureRequest, emulator: ChimeEmulator, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    async with offline_bot(overrides(request), emulator=emulator, clock=clock) as running:
        yield running


pytest_plugins = ("tests.dynamo",)


def full(bot: OfflineBot) -> int:
    """A full batch (50) on SQLite; 10 on DynamoDB, where moto copies the whole table on every
    transaction, so 50 would take half a minute for the same code path."""
    return 10 if str(bot.runtime.settings.chime_store_url).startswith("dynamodb") else 50


def addresses(count: int, domain: str = "new.example.org") -> list[str]:
    return [f"person{i:02d}@{domain}" for i in range(count)]


async def every_request(bot: OfflineBot) -> list[InviteRequest]:
    found: list[InviteRequest] = []
    for status in Status:
        found += await bot.runtime.store.list_by_status(status)
    return sorted(found, key=lambda r: r.email)


async def test_fifty_addresses_on_a_team_account_are_one_request_and_one_invite_users_call(
    bot: OfflineBot,
) -> None:
    emails = addresses(n := full(bot))
    note = await invite(bot, " ".join(emails) + f" {TEAM} spring cohort")
    assert f"{n} addresses" in note["text"] and "awaits approval" in note["text"]
    card = the_card(bot)
    assert_valid_message(card.message)
    text = all_text(card.message)
    assert all(email in text for email in emails)
    assert "InviteUsers" in text and "spring cohort" in text
    requests = await every_request(bot)
    assert [r.email for r in requests] == emails
    lead = next(r for r in requests if r.id == r.batch_id)
    assert {r.batch_id for r in requests} == {lead.id}
    assert {(r.card_channel, r.card_ts) for r in requests} == {(card.channel, card.ts)}
    assert [b["value"] for _, b in buttons(card.message)] == [lead.id, lead.id]

    assert await click(bot, card, f"Approve all {n}", DEMO_APPROVER) == []
    (call,) = [c for c in bot.emulator.calls if c.operation == "InviteUsers"]
    assert sorted(call.params["UserEmailList"]) == emails
    assert {r.status for r in await every_request(bot)} == {Status.APPROVED}
    final = card.current
    assert_valid_message(final)
    assert buttons(final) == []
    assert f"{n} done" in all_text(final)
    assert all_text(final).count("Invitation sent: status Pending") == n
    (dm,) = dms_to(bot, REQUESTER)
    assert f"{n} done" in all_text(dm)
    for request in requests:
        trail = [e.action for e in await bot.runtime.store.audit_trail(request.id)]
        # The note about the whole invite is kept once, on its lead.
        told = ["told"] if request.id == lead.id else []
        assert trail == ["filed", "approve_claimed", "approved", *told]


async def test_enterprise_batch_runs_create_user_per_address_and_retries_only_the_failed_one(
    bot: OfflineBot,
) -> None:
    emails = addresses(n := full(bot))
    await invite(bot, ", ".join(emails) + f" {CORP}")
    card = the_card(bot)
    bot.emulator.inject("CreateUser", Fault("BadRequestException", message="quota reached"))
    await click(bot, card, f"Approve all {n}", DEMO_APPROVER)
    assert bot.emulator.count("CreateUser") == n
    requests = await every_request(bot)
    (failed,) = [r for r in requests if r.status == Status.FAILED]
    assert "quota reached" in str(failed.error)
    assert sum(r.status == Status.APPROVED for r in requests) == n - 1
    shown = card.current
    assert_valid_message(shown)
    assert f"{n - 1} done, 1 failed" in all_text(shown)
    (dm,) = dms_to(bot, REQUESTER)
    assert "1 failed" in all_text(dm)

    bot.emulator.reset_calls()
    assert await click(bot, card, "Retry the 1 that failed", "U0APPROVER2") == []
    (retried,) = [c for c in bot.emulator.calls if c.operation == "CreateUser"]
    assert retried.params["Email"] == failed.email
    assert {r.status for r in await every_request(bot)} == {Status.APPROVED}
    for email in emails:
        assert len(bot.emulator.find_users(email)) == 1
    assert f"{n} done" in all_text(card.current) and buttons(card.current) == []
    assert len(dms_to(bot, REQUESTER)) == 2


async def test_existing_and_already_requested_addresses_are_skipped_not_fatal(
    bot: OfflineBot,
) -> None:
    await invite(bot, f"open@example.com {CORP}", user="U0OTHER")
    first_card = the_card(bot)
    bot.slack.messages.clear()
    note = await invite(bot, f"ada@example.com, open@example.com, fresh@example.com {CORP}")
    text = all_text(note)
    assert "ada@example.com — skipped: already in Amazon Chime (Example Corp)" in text
    assert "open@example.com — skipped: already requested in REQ-" in text
    assert "fresh@example.com — awaiting approval" in text
    card = the_card(bot)
    assert card.ts != first_card.ts
    card_text = all_text(card.message)
    assert "Skipped* (2)" in card_text and "fresh@example.com" in card_text
    mine = [r for r in await every_request(bot) if r.requester == REQUESTER]
    assert [r.email for r in mine] == ["fresh@example.com"]
    (skipped,) = [
        e for e in await bot.runtime.store.audit_trail(mine[0].id) if e.action == "skipped"
    ]
    assert set(skipped.detail) == {"ada@example.com", "open@example.com"}

    await click(bot, card, "Approve all 1", DEMO_APPROVER)
    assert "Skipped* (2)" in all_text(card.current), "the skipped stay listed after decisions"


async def test_nothing_left_means_nothing_filed(bot: OfflineBot) -> None:
    note = await invite(bot, f"ada@example.com ADA@example.com, grace@example.com {CORP}")
    assert "Nothing was filed" in note["text"]
    assert bot.slack.calls_to("chat.postMessage") == []
    assert await every_request(bot) == []


async def test_fifty_one_addresses_are_refused_in_the_ack(bot: OfflineBot) -> None:
    exchange = await bot.sender.command(
        "invite " + " ".join(addresses(51)) + f" {TEAM}", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert exchange.ack is not None
    assert_valid_message(exchange.ack)
    assert "at most 50" in all_text(exchange.ack)
    assert bot.emulator.count() == 0 and await every_request(bot) == []


async def test_deny_all_denies_every_address_and_tells_the_requester_once(bot: OfflineBot) -> None:
    await invite(bot, " ".join(addresses(3)) + f" {CORP}")
    card = the_card(bot)
    assert await click(bot, card, "Deny all", DEMO_APPROVER) == []
    assert {r.status for r in await every_request(bot)} == {Status.DENIED}
    assert "Denied" in all_text(card.current) and buttons(card.current) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert "denied" in all_text(dm)
    assert bot.emulator.count("CreateUser") == 0


async def test_one_failed_invitation_is_retried_alone_with_its_own_invite_users_call(
    bot: OfflineBot,
) -> None:
    emails = addresses(4)
    bot.emulator.set_invite_outcome(emails[2], status="Failed", email_status="NotSent")
    await invite(bot, " ".join(emails) + f" {TEAM}")
    card = the_card(bot)
    await click(bot, card, "Approve all 4", DEMO_APPROVER)
    by_email = {r.email: r for r in await every_request(bot)}
    assert by_email[emails[2]].status == Status.FAILED
    assert "invitation status Failed" in str(by_email[emails[2]].error)
    assert "3 done, 1 failed" in all_text(card.current)

    bot.emulator.clear_invite_outcomes()
    await click(bot, card, "Retry the 1 that failed", DEMO_APPROVER)
    calls = [c.params["UserEmailList"] for c in bot.emulator.calls if c.operation == "InviteUsers"]
    assert len(calls) == 2 and calls[1] == [emails[2]]
    assert {r.status for r in await every_request(bot)} == {Status.APPROVED}


async def test_a_card_slack_refuses_withdraws_every_address(bot: OfflineBot) -> None:
    bot.slack.refuse_posts_to.add(DEMO_APPROVAL_CHANNEL)
    note = await invite(bot, " ".join(addresses(3)) + f" {CORP}")
    assert "nothing was filed" in all_text(note)
    requests = await every_request(bot)
    assert len(requests) == 3 and {r.status for r in requests} == {Status.DENIED}
    assert await bot.runtime.store.count_open_by_requester(REQUESTER, now=1e12) == 0
    bot.slack.refuse_posts_to.clear()
    await invite(bot, " ".join(addresses(3)) + f" {CORP}")  # the same addresses may be filed again
    assert len(await bot.runtime.store.list_open(now=0)) == 3


async def test_chime_failing_during_the_checks_files_nothing(bot: OfflineBot) -> None:
    bot.emulator.inject("ListAccounts", Fault("ForbiddenException", times=-1))
    note = await invite(bot, " ".join(addresses(3)) + f" {CORP}")
    assert "chime:ListAccounts" in all_text(note)
    assert await every_request(bot) == []
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_pending_and_home_show_a_bulk_invite_as_one_entry_with_one_id(
    bot: OfflineBot,
) -> None:
    emails = addresses(3)
    await invite(bot, " ".join(emails) + f" {TEAM}")
    await invite(bot, f"single@example.com {CORP}", user="U0SECOND")
    filed = await every_request(bot)
    (lead,) = [r for r in filed if r.batch_id == r.id]
    (single,) = [r for r in filed if r.batch_id is None]
    exchange = await bot.sender.command("pending", user_id=DEMO_APPROVER, channel_id=CHANNEL)
    listing = await exchange.reply()
    assert_valid_message(listing)
    home = home_text(await open_home(bot, DEMO_APPROVER))

    def ids(text: str) -> set[str]:
        return set(re.findall(r"REQ-[0-9A-Z]+", text))

    # The same entries under the same IDs: the bulk invite's, and the single request's.
    assert ids(all_text(listing)) == ids(home) == {lead.id, single.id}
    assert "Open Chime requests (2)" in all_text(listing)
    assert "Waiting for your decision (2)" in home
    # With its addresses: every one in the list, the lead and how many more in Home.
    assert all(email in all_text(listing) for email in emails)
    assert "bulk invite of 3 addresses" in all_text(listing)
    assert f"{lead.email} and 2 more addresses (bulk invite" in home


async def test_a_bulk_invite_counts_as_one_request_for_fair_use(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    settings = {"chime_approvers": ",".join(APPROVERS), "chime_max_open_per_requester": 2}
    async with offline_bot(settings, emulator=emulator, clock=clock) as bot:
        await invite(bot, " ".join(addresses(5)) + f" {CORP}")
        await invite(bot, " ".join(addresses(5, "other.example.org")) + f" {CORP}")
        refused = await invite(bot, f"third@example.com {CORP}")
        assert "You already have 2 open requests" in all_text(refused)
        assert len(await bot.runtime.store.list_open(now=0)) == 10


def _long(i: int) -> str:
    """A 254-character address (SMTP's maximum), distinct per `i`."""
    domain = "@long.example.org"
    return f"{i:02d}" + "x" * (254 - len(domain) - 2) + domain


@pytest.mark.parametrize("status", [Status.FAILED, Status.APPROVED, Status.PENDING])
def test_a_batch_card_at_every_maximum_stays_within_slacks_limits(status: Status) -> None:
    now = 1_790_000_000.0
    members = [
        InviteRequest(
            id=new_request_id(),
            email=_long(i),
            user_type="PrivateUser",
            reason="r" * 500,
            account_id="a" * 36,
            account_name="N" * 100,
            account_type="EnterpriseLWA",
            requester=REQUESTER,
            origin_channel=CHANNEL,
            created_at=now,
            expires_at=now + 86_400,
            status=status,
            decided_by=None if status == Status.PENDING else DEMO_APPROVER,
            decided_at=None if status == Status.PENDING else now,
            error="E" * 2000 if status == Status.FAILED else None,
            result={"user_id": "u" * 36} if status == Status.APPROVED else None,
        )
        for i in range(50)
    ]
    members = [replace(m, batch_id=members[0].id) for m in members]
    skipped = {_long(50 + i): "already in Amazon Chime (" + "A" * 3000 + ")" for i in range(49)}
    for reply in (
        batch_card(members, {}),
        batch_card(members[:1], skipped),
        batch_filed_note(members[:1], skipped, CHANNEL),
        batch_outcome_note(members),
    ):
        message = reply.as_message()
        assert_valid_message(message)
        assert len(message["blocks"]) <= 50
    assert all(m.email in all_text(batch_card(members, {}).as_message()) for m in members)
