"""The request form, end to end over signed HTTP: `/chime invite` alone and the global shortcut
open a modal on the Slack stand-in (which refuses what Slack would), and its submission files
what the slash command files, or answers inline errors.

Submissions are built from the modal the stand-in holds, as Slack builds them from what it
shows: the blocks, action IDs and options the bot actually sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cards.form import SHORTCUT_ID, Field
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import Exchange, MethodFault
from bot.offline.standin_views import OpenView
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest
from tests.approvals.test_invite import APPROVERS, click, dms_to, invite, settle
from tests.blockkit import all_text, assert_valid_message, literal_problems, plain_strings
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"  # Example Corp, EnterpriseLWA
TEAM = "7ea70000-5e3d-4b8a-9f21-000000000002"  # Example Team, Team
LABS = "1ab50000-5e3d-4b8a-9f21-000000000003"  # Example Labs, EnterpriseOIDC: never offered


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides = {"chime_approvers": ",".join(APPROVERS), "chime_retry_budget": 2.0}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


def the_form(bot: OfflineBot, user: str = REQUESTER) -> OpenView:
    (form,) = bot.slack.views.opened_for(user)
    return form


def offered(form: OpenView) -> dict[str, str]:
    """The account select's options as shown: value -> label."""
    for block in form.view["blocks"]:
        if block.get("block_id") == Field.ACCOUNT:
            return {o["value"]: o["text"]["text"] for o in block["element"]["options"]}
    raise AssertionError("no account select in the form")


async def open_form(bot: OfflineBot, user: str = REQUESTER) -> OpenView:
    exchange = await bot.sender.command("invite", user_id=user, channel_id=CHANNEL)
    assert exchange.status == 200 and exchange.ack is None
    await settle(bot)
    return the_form(bot, user)


def fields(email: str, account: str = CORP, reason: str = "new hire") -> dict[str, str]:
    # Field is a StrEnum: its members are the block IDs themselves.
    return {
        Field.EMAIL: email,
        Field.ACCOUNT: account,
        Field.USER_TYPE: "PrivateUser",
        Field.REASON: reason,
    }


async def submit(
    bot: OfflineBot, form: OpenView, values: dict[str, str], user: str = REQUESTER, **kw: Any
) -> Exchange:
    exchange = await bot.sender.submit(form.id, values, user_id=user, **kw)
    assert exchange.status == 200
    await settle(bot)
    return exchange


async def requests(bot: OfflineBot) -> list[InviteRequest]:
    return await bot.runtime.deps.approvals.open_requests()


# ---- opening -----------------------------------------------------------------------------------


async def test_invite_alone_opens_the_form_first_and_then_lists_the_accounts(
    bot: OfflineBot,
) -> None:
    form = await open_form(bot)
    opened, *updates = form.history
    # What views.open showed needs no Chime call: nothing to submit yet.
    assert "submit" not in opened and "Loading" in all_text(opened)
    assert [c.method for c in bot.slack.calls if c.method.startswith("views.")] == [
        "views.open",
        "views.update",
    ]
    assert len(updates) == 1 and form.view["submit"]["text"] == "Request"
    # Directory accounts (Okta/AD) take no invitations: not offered.
    assert offered(form) == {CORP: "Example Corp", TEAM: "Example Team"}
    assert form.view["private_metadata"] and form.view["callback_id"] == "chime_request_form"


async def test_the_form_opens_even_when_chime_does_not_answer(
    bot: OfflineBot, emulator: ChimeEmulator
) -> None:
    emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
    form = await open_form(bot)
    assert "submit" not in form.view
    assert "Amazon Chime" in all_text(form.view) and "not answering" in all_text(form.view)
    assert not await requests(bot)


async def test_a_stale_trigger_is_told_in_the_channel_and_files_nothing(bot: OfflineBot) -> None:
    # The trigger reaches views.open 3.5 s old: Slack answers expired_trigger_id.
    bot.slack.views.late_by = 3.5
    exchange = await bot.sender.command("invite", user_id=REQUESTER, channel_id=CHANNEL)
    (note,) = await exchange.replies(1)
    assert_valid_message(note)
    assert "could not be opened" in all_text(note) and "expired_trigger_id" in all_text(note)
    assert not bot.slack.views.views


async def test_views_open_failing_is_told_too(bot: OfflineBot) -> None:
    bot.slack.method_faults["views.open"] = MethodFault(error="internal_error")
    exchange = await bot.sender.command("invite", user_id=REQUESTER, channel_id=CHANNEL)
    (note,) = await exchange.replies(1)
    assert "internal_error" in all_text(note) and "Nothing was filed" in all_text(note)


async def test_the_form_is_not_opened_outside_the_allowed_channels(bot: OfflineBot) -> None:
    exchange = await bot.sender.command("invite", user_id=REQUESTER, channel_id="C0ELSEWHERE")
    assert exchange.ack is not None and "not enabled in this channel" in all_text(exchange.ack)
    assert not bot.slack.views.views


# ---- submitting --------------------------------------------------------------------------------


async def test_a_submission_files_what_the_slash_command_files(bot: OfflineBot) -> None:
    form = await open_form(bot)
    exchange = await submit(bot, form, fields("newhire@example.com", reason="new hire"))
    assert exchange.ack is None  # an empty 200 closes the modal
    await invite(bot, 'other@example.com --account "Example Corp" new hire')
    by_form, by_command = sorted(await requests(bot), key=lambda r: r.email)
    same = ("user_type", "reason", "account_id", "account_name", "requester", "origin_channel")
    assert {k: getattr(by_form, k) for k in same} == {k: getattr(by_command, k) for k in same}
    assert by_form.email == "newhire@example.com" and by_form.origin_channel == CHANNEL
    # The requester's note, by DM: the one the slash command answers with.
    (note,) = dms_to(bot, REQUESTER)
    assert_valid_message(note)
    assert by_form.id in all_text(note)
    # And the card is a real one: an approval creates the user.
    card = next(m for m in bot.slack.messages if by_form.id in all_text(m.message))
    assert card.channel == DEMO_APPROVAL_CHANNEL
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator is not None and bot.emulator.find_users("newhire@example.com")


async def test_invalid_fields_are_answered_in_the_form(bot: OfflineBot) -> None:
    form = await open_form(bot)
    values: dict[str, str] = {
        Field.EMAIL: "gr\u200bace@example.com",
        Field.ACCOUNT: "",
        Field.USER_TYPE: "PrivateUser",
        Field.REASON: "x" * 501,  # the input allows 500; a forged submission sends more
    }
    exchange = await submit(bot, form, values)
    assert exchange.ack is not None and exchange.ack["response_action"] == "errors"
    errors = exchange.ack["errors"]
    assert set(errors) == {Field.EMAIL, Field.ACCOUNT, Field.REASON}
    assert "U+200B ZERO WIDTH SPACE" in errors[Field.EMAIL]
    assert "501 characters" in errors[Field.REASON]
    assert not await requests(bot) and not dms_to(bot, REQUESTER)


async def test_the_longest_fields_are_filed(bot: OfflineBot) -> None:
    form = await open_form(bot)
    email = "a" * 240 + "@example.com"  # 252 characters
    exchange = await submit(bot, form, fields(email, TEAM, "r" * 500))
    assert exchange.ack is None
    (request,) = await requests(bot)
    assert request.email == email and len(request.reason) == 500


async def test_an_account_suspended_since_the_form_opened_is_refused_inline(
    bot: OfflineBot, emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    form = await open_form(bot)
    emulator.set_account_status(TEAM, "Suspended")
    clock.advance(60)  # past the account list's cache
    exchange = await submit(bot, form, fields("newhire@example.com", TEAM))
    assert exchange.ack is not None and set(exchange.ack["errors"]) == {Field.ACCOUNT}
    assert "no longer" in exchange.ack["errors"][Field.ACCOUNT]
    assert not await requests(bot)


@pytest.mark.parametrize("account", [LABS, "not-an-account", CORP + " "])
async def test_an_account_the_form_never_offered_is_refused(bot: OfflineBot, account: str) -> None:
    form = await open_form(bot)

    def choose(payload: dict[str, Any]) -> None:
        state = payload["view"]["state"]["values"][Field.ACCOUNT][Field.ACCOUNT]
        state["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": account}

    exchange = await submit(bot, form, fields("newhire@example.com"), alter=choose)
    assert exchange.ack is not None and set(exchange.ack["errors"]) == {Field.ACCOUNT}
    assert not await requests(bot)


# ---- forged and replayed forms -----------------------------------------------------------------


FORGERIES = {
    "another channel": lambda sealed: sealed.replace(CHANNEL, "C0ELSEWHERE"),
    "another user": lambda sealed: sealed.replace(REQUESTER, "U0MALLORY"),
    "non-ASCII seal": lambda sealed: "é" + sealed[1:],
    "no seal": lambda sealed: sealed.partition(".")[2],
    "empty": lambda sealed: "",
    "junk": lambda sealed: "\x00.{" * 500,
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_forged_origin_files_nothing(bot: OfflineBot, forge: Any) -> None:
    form = await open_form(bot)

    def forged(payload: dict[str, Any]) -> None:
        payload["view"]["private_metadata"] = forge(payload["view"]["private_metadata"])

    exchange = await submit(bot, form, fields("newhire@example.com"), alter=forged)
    assert exchange.ack is not None and exchange.ack["response_action"] == "update"
    assert "not opened for you" in all_text(exchange.ack["view"])
    assert not await requests(bot)


async def test_someone_elses_form_cannot_be_submitted(bot: OfflineBot) -> None:
    form = await open_form(bot)
    exchange = await submit(bot, form, fields("newhire@example.com"), user="U0SOMEONEELSE")
    assert exchange.ack is not None and exchange.ack["response_action"] == "update"
    assert not await requests(bot)


# ---- the global shortcut -----------------------------------------------------------------------


async def test_the_shortcut_asks_for_the_channel_and_holds_it_to_the_allowlist(
    bot: OfflineBot,
) -> None:
    exchange = await bot.sender.shortcut(SHORTCUT_ID, user_id=REQUESTER)
    assert exchange.status == 200 and exchange.ack is None
    await settle(bot)
    form = the_form(bot)
    assert form.view["blocks"][0]["block_id"] == Field.CHANNEL
    refused = await submit(bot, form, {**fields("newhire@example.com"), Field.CHANNEL: "C0NOTHERE"})
    assert refused.ack is not None and set(refused.ack["errors"]) == {Field.CHANNEL}
    assert not await requests(bot)
    filed = await submit(bot, form, {**fields("newhire@example.com"), Field.CHANNEL: CHANNEL})
    assert filed.ack is None
    (request,) = await requests(bot)
    assert request.origin_channel == CHANNEL and request.requester == REQUESTER
    assert request.id in all_text(dms_to(bot, REQUESTER)[0])


async def shortcut_form(bot: OfflineBot, user: str = REQUESTER) -> OpenView:
    exchange = await bot.sender.shortcut(SHORTCUT_ID, user_id=user)
    assert exchange.status == 200 and exchange.ack is None
    await settle(bot)
    return the_form(bot, user)


async def test_the_shortcut_files_only_from_a_channel_its_user_is_in(bot: OfflineBot) -> None:
    """An allowed channel is the control on who may request for an account: someone outside
    it may not pick it in the shortcut's channel picker (Slack offers any conversation)."""
    form = await shortcut_form(bot)
    bot.slack.channel_members[CHANNEL] = ["U0INSIDER", *(f"U0M{i:04d}" for i in range(450))]
    chosen = {**fields("outsider@example.com"), Field.CHANNEL: CHANNEL}
    refused = await submit(bot, form, chosen)
    assert refused.ack is not None and refused.ack["response_action"] == "errors"
    assert set(refused.ack["errors"]) == {Field.CHANNEL}
    assert "not in that channel" in refused.ack["errors"][Field.CHANNEL]
    assert not await requests(bot)
    # Every page was read (the reference's pages, at most 200 each) before saying no.
    pages = bot.slack.calls_to("conversations.members")
    assert len(pages) == 3 and all(int(c.args["limit"]) <= 200 for c in pages)

    bot.slack.channel_members[CHANNEL].append(REQUESTER)  # on the last page
    filed = await submit(bot, form, chosen)
    assert filed.ack is None
    (request,) = await requests(bot)
    assert request.origin_channel == CHANNEL and request.requester == REQUESTER


@pytest.mark.parametrize(
    "fault",
    [
        MethodFault(error="channel_not_found"),
        MethodFault(error="fetch_members_failed"),
        MethodFault(status=502),
    ],
    ids=["channel_not_found", "fetch_members_failed", "http-502"],
)
async def test_the_shortcut_fails_closed_when_slack_cannot_say(
    bot: OfflineBot, fault: MethodFault
) -> None:
    form = await shortcut_form(bot)
    bot.slack.method_faults["conversations.members"] = fault
    refused = await submit(bot, form, {**fields("unsure@example.com"), Field.CHANNEL: CHANNEL})
    assert refused.ack is not None and set(refused.ack["errors"]) == {Field.CHANNEL}
    assert "could not say whether you are in that channel" in refused.ack["errors"][Field.CHANNEL]
    assert not await requests(bot)


async def test_a_rate_limited_membership_check_still_fails_closed(bot: OfflineBot) -> None:
    """A 429 is tried again after Retry-After (bot/app.py); then too late for the form, the
    refusal comes by DM."""
    form = await shortcut_form(bot)
    bot.slack.method_faults["conversations.members"] = MethodFault(error="ratelimited")
    late = await submit(bot, form, {**fields("limited@example.com"), Field.CHANNEL: CHANNEL})
    if late.ack is not None:
        said = late.ack["errors"][Field.CHANNEL]
    else:
        said = all_text(dms_to(bot, REQUESTER)[0])
    assert "limiting how often" in said, said
    assert len([a for a in bot.slack.attempts if a.method == "conversations.members"]) == 2
    assert not await requests(bot)


async def test_a_membership_answer_too_late_for_the_form_refuses_by_dm(bot: OfflineBot) -> None:
    form = await shortcut_form(bot)
    bot.slack.channel_members[CHANNEL] = ["U0INSIDER"]
    bot.slack.method_faults["conversations.members"] = MethodFault(delay=2.0)
    late = await submit(bot, form, {**fields("late@example.com"), Field.CHANNEL: CHANNEL})
    assert late.ack is None, "the form was answered before Slack said"
    (note,) = dms_to(bot, REQUESTER)
    assert "Request not filed" in all_text(note) and "not in that channel" in all_text(note)
    assert not await requests(bot)


async def test_the_slash_command_form_asks_slack_nothing_about_membership(bot: OfflineBot) -> None:
    form = await open_form(bot)  # Slack sends /chime only from a channel its user is in
    assert (await submit(bot, form, fields("in@example.com"))).ack is None
    assert len(await requests(bot)) == 1
    assert not bot.slack.calls_to("conversations.members")


async def test_the_shortcut_fails_closed_without_allowed_channels(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    overrides: dict[str, object] = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_allowed_channels": "",
    }
    async with offline_bot(overrides, emulator=emulator, clock=clock) as bot:
        await bot.sender.shortcut(SHORTCUT_ID, user_id=REQUESTER)
        await settle(bot)
        form = the_form(bot)
        assert "submit" not in form.view
        assert "CHIME_ALLOWED_CHANNELS is empty" in all_text(form.view)


async def test_a_shortcut_whose_form_cannot_open_is_told_by_dm(bot: OfflineBot) -> None:
    bot.slack.views.late_by = 3.5
    await bot.sender.shortcut(SHORTCUT_ID, user_id=REQUESTER)
    await settle(bot)
    (note,) = dms_to(bot, REQUESTER)
    assert "expired_trigger_id" in all_text(note)


# ---- hostile, repeated and refused submissions -------------------------------------------------

MARKUP = "<!channel> *Approved* by <@U0APPROVER> `x` :white_check_mark: https://evil.example/\n2nd"


async def test_hostile_text_in_every_field_stays_literal(
    bot: OfflineBot, emulator: ChimeEmulator
) -> None:
    hostile = "<!here> *" + "Ünïcödé \u202e" * 10 + "https://evil.example/ " + "x" * 100
    emulator.add_account(name=hostile, account_type="Team", account_id="hostile-account")
    form = await open_form(bot)
    label = offered(form)["hostile-account"]
    assert len(label) <= 75 and "\u202e" not in label  # one line, no bidi override, fits
    exchange = await submit(bot, form, fields("newhire@example.com", "hostile-account", MARKUP))
    assert exchange.ack is None
    (request,) = await requests(bot)
    assert request.account_name == hostile and "\n" not in request.reason
    card = next(m for m in bot.slack.messages if request.id in all_text(m.message))
    # The markup arrives as text, in the form and on the card: no mention, link or bold of
    # the data's making, and the card is laid out as for any other request.
    assert literal_problems({"text": "", "blocks": form.view["blocks"]}) == []
    assert_valid_message(card.message)
    assert literal_problems(card.message) == []
    assert "*Approved*" in "".join(plain_strings(card.message))


@pytest.mark.parametrize(
    "email",
    ["<mailto:a@b.co|a@b.co> x", "a@b", "new\u00a0hire@example.com", " " * 3],
)
async def test_emails_the_command_refuses_are_refused_inline(bot: OfflineBot, email: str) -> None:
    form = await open_form(bot)
    exchange = await submit(bot, form, fields(email))
    assert exchange.ack is not None and set(exchange.ack["errors"]) == {Field.EMAIL}
    assert all(len(e) <= 300 for e in exchange.ack["errors"].values())
    assert not await requests(bot)


async def test_a_second_submission_is_the_same_request(bot: OfflineBot) -> None:
    form = await open_form(bot)
    for _ in range(2):  # a double click, or Slack retrying
        assert (await submit(bot, form, fields("newhire@example.com"))).ack is None
    assert len(await requests(bot)) == 1
    _, second = dms_to(bot, REQUESTER)
    assert "already" in all_text(second).lower()


async def test_someone_already_in_chime_is_not_filed(bot: OfflineBot) -> None:
    form = await open_form(bot)
    await submit(bot, form, fields("ada@example.com"))
    assert not await requests(bot)
    assert "already exists" in all_text(dms_to(bot, REQUESTER)[0])


async def test_with_no_one_to_approve_nothing_is_filed(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot({"chime_approvers": REQUESTER}, emulator=emulator, clock=clock) as bot:
        form = await open_form(bot)
        assert "submit" not in form.view
        assert "no one could approve it" in all_text(form.view).lower()
        assert not bot.emulator or not bot.emulator.count("ListAccounts")
        assert not await requests(bot)


async def test_a_slow_account_list_is_checked_after_the_answer(
    bot: OfflineBot, emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    """The form's answer cannot wait for Chime: the account is checked after it, and a refusal
    still reaches the requester."""
    form = await open_form(bot)
    emulator.set_account_status(TEAM, "Suspended")
    clock.advance(60)  # past the account list's cache
    emulator.set_latency(2.0, "ListAccounts")
    exchange = await submit(bot, form, fields("newhire@example.com", TEAM))
    assert exchange.ack is None
    assert not await requests(bot)
    (note,) = dms_to(bot, REQUESTER)
    assert "Request not filed" in all_text(note) and "no longer" in all_text(note)


async def test_the_forms_account_is_matched_by_id_only(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    """An account named like another account's ID: the form's choice (an ID) files, and
    creates, in the account with that ID."""
    impostor = emulator.add_account(name=CORP)["AccountId"]
    overrides: dict[str, object] = {"chime_approvers": ",".join(APPROVERS)}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as bot:
        form = await open_form(bot)
        assert offered(form)[impostor] == CORP and offered(form)[CORP] == "Example Corp"
        exchange = await submit(bot, form, fields("formed@example.com", CORP))
        assert exchange.ack is None
        (request,) = await requests(bot)
        assert request.account_id == CORP and request.account_name == "Example Corp"
        card = next(m for m in bot.slack.messages if request.id in all_text(m.message))
        await click(bot, card, "Approve", DEMO_APPROVER)
        creates = [c.params for c in emulator.calls if c.operation == "CreateUser"]
        assert [c["AccountId"] for c in creates] == [CORP]
        assert creates[0]["Email"] == "formed@example.com"


async def test_every_answer_the_bot_gives_a_submission_is_one_slack_takes(bot: OfflineBot) -> None:
    """The stand-in holds view_submission answers to Slack's rules (errors keyed by the view's
    input blocks, updates that are valid views) and raises when the bot breaks them; here the
    bot's three kinds of answer, from the one form: errors, an update, and a close."""
    form = await shortcut_form(bot)
    errors = await submit(bot, form, {**fields("not-an-email"), Field.CHANNEL: "C0NOTHERE"})
    assert errors.ack is not None and set(errors.ack["errors"]) == {Field.EMAIL, Field.CHANNEL}
    closed = await submit(bot, form, {**fields("ok@example.com"), Field.CHANNEL: CHANNEL})
    assert closed.ack is None
    other = await shortcut_form(bot, user="U0OTHER")
    update = await submit(
        bot, other, {**fields("x@example.com"), Field.CHANNEL: CHANNEL}, user=REQUESTER
    )
    assert update.ack is not None and update.ack["response_action"] == "update"
    assert not bot.slack.views.refused_answers
    assert "cannot be used" in all_text(bot.slack.views.views[other.id].view), "the update shows"
