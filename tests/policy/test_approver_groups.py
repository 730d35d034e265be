"""Approvers from Slack user groups, end to end over signed HTTP: CHIME_APPROVERS names a group,
its members come from the Slack stand-in's usergroups.users.list, and a change event (or the
TTL) takes the power away from a removed member. Every way Slack can fail to answer fails closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import load_settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import MethodFault, SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, OfflineBot, offline_bot
from bot.policy import approvers as approvers_module
from bot.policy.approvers import Approvers, slack_fetch
from bot.policy.authz import Policy
from bot.store import Status
from tests.approvals.test_invite import click, invite, only_request, settle, the_card
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets
from tests.cli import offline_env, run_cli
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER
from tests.ops.test_check import run_check

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

GROUP = "S0APPROVERS"
ALICE, BOB = "U0ALICE", "U0BOB"
LIST = "usergroups.users.list"
ACCOUNT = '--account "Example Corp"'


@pytest.fixture
def slack() -> SlackStandIn:
    standin = SlackStandIn()
    standin.usergroups[GROUP] = [ALICE, BOB]
    return standin


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, slack: SlackStandIn, clock: VirtualClock
) -> AsyncIterator[OfflineBot]:
    overrides = {"chime_approvers": GROUP, "chime_group_cache_ttl": 60.0}
    async with offline_bot(overrides, emulator=emulator, clock=clock, slack=slack) as running:
        yield running


def reads(bot: OfflineBot) -> int:
    return len(bot.slack.calls_to(LIST))


async def test_a_group_member_approves_and_the_user_is_created_once(bot: OfflineBot) -> None:
    note = await invite(bot, f"new.hire@example.com {ACCOUNT}")
    assert "awaits approval" in note["text"]
    assert [c.args["usergroup"] for c in bot.slack.calls_to(LIST)] == [GROUP]
    card = the_card(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    assert bot.emulator.count("CreateUser") == 1
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.decided_by == ALICE
    assert f"<@{ALICE}>" in all_text(card.current)


async def test_a_group_member_denies(bot: OfflineBot) -> None:
    await invite(bot, f"nope@example.com {ACCOUNT}")
    assert await click(bot, the_card(bot), "Deny", BOB) == []
    assert (await only_request(bot)).status == Status.DENIED
    assert bot.emulator.count("CreateUser") == 0


async def test_members_are_cached_for_the_ttl_then_read_again(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await invite(bot, f"a@example.com {ACCOUNT}")
    await invite(bot, f"b@example.com {ACCOUNT}", user="U0SECOND")
    assert reads(bot) == 1, "the second filing used the cached members"
    # Alice leaves the group and no event comes (events off, or sent to another replica).
    bot.slack.usergroups[GROUP] = [BOB]
    clock.advance(61)
    cards = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    (refusal,) = await click(bot, cards[0], "Approve", ALICE)
    assert reads(bot) == 2, "read again once the TTL had passed"
    assert "Only the approvers listed in CHIME_APPROVERS" in all_text(refusal)
    assert "user groups" in all_text(refusal)
    assert bot.emulator.count("CreateUser") == 0
    assert await click(bot, cards[0], "Approve", BOB) == []
    assert bot.emulator.count("CreateUser") == 1


async def test_a_removed_member_loses_the_power_at_the_change_event(bot: OfflineBot) -> None:
    await invite(bot, f"c@example.com {ACCOUNT}")
    card = the_card(bot)
    event = bot.slack.change_members(GROUP, [BOB])
    assert event["event"]["removed_users"] == [ALICE]
    delivered = await bot.sender.event(event)
    assert delivered.status == 200
    await settle(bot)
    assert reads(bot) == 2, "the event made the bot read the group again at once"

    (refusal,) = await click(bot, card, "Approve", ALICE)
    assert_valid_message(refusal)
    assert "Only the approvers" in all_text(refusal)
    request = await only_request(bot)
    assert request.status == Status.PENDING and bot.emulator.count("CreateUser") == 0
    trail = await bot.runtime.store.audit_trail(request.id)
    assert trail[-1].action == "refused" and trail[-1].actor == ALICE

    # Added back, and the event says so: the power returns as promptly.
    assert (await bot.sender.event(bot.slack.change_members(GROUP, [ALICE, BOB]))).status == 200
    await settle(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    assert bot.emulator.count("CreateUser") == 1


@pytest.mark.parametrize("as_missing", [False, True], ids=["empty-list", "no_such_subteam"])
async def test_a_disabled_group_stops_approving_at_the_update_event(
    bot: OfflineBot, as_missing: bool
) -> None:
    """Disabling a group changes no member, so Slack sends subteam_updated (with a nonzero
    date_delete), not subteam_members_changed; the cache (60 s here, up to an hour) must not
    outlive it. Whichever way Slack then lists the disabled group, no one approves through it."""
    bot.slack.disabled_as_missing = as_missing
    await invite(bot, f"off@example.com {ACCOUNT}")
    assert reads(bot) == 1, "Alice's membership is cached"
    card = the_card(bot)
    event = bot.slack.disable_group(GROUP)
    assert event["event"]["subteam"]["date_delete"] > 0
    assert event["event"]["subteam"]["users"] == [ALICE, BOB], "the event still lists them"
    assert (await bot.sender.event(event)).status == 200
    await settle(bot)

    (refusal,) = await click(bot, card, "Approve", ALICE)
    assert_valid_message(refusal)
    assert "Only the approvers" in all_text(refusal)
    assert (await only_request(bot)).status == Status.PENDING
    assert bot.emulator.count("CreateUser") == 0

    # Enabled again, and the event says so: the members are read again, and approve.
    assert (await bot.sender.event(bot.slack.disable_group(GROUP, disabled=False))).status == 200
    await settle(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    assert bot.emulator.count("CreateUser") == 1


async def test_an_update_of_an_enabled_group_reads_its_members_again(bot: OfflineBot) -> None:
    await invite(bot, f"upd@example.com {ACCOUNT}")
    card = the_card(bot)
    bot.slack.usergroups[GROUP] = [BOB]  # subteam_updated also comes for member changes
    assert (await bot.sender.event(bot.slack.disable_group(GROUP, disabled=False))).status == 200
    await settle(bot)
    assert reads(bot) == 2, "read again at once, not taken from the event's (truncated) users"
    (refusal,) = await click(bot, card, "Approve", ALICE)
    assert "Only the approvers" in all_text(refusal)


@pytest.mark.parametrize(
    "subteam",
    [None, "S0APPROVERS", {"id": ["S0APPROVERS"]}, {"id": GROUP, "date_delete": "now"}],
    ids=["null", "string", "id-list", "date-string"],
)
async def test_a_malformed_update_event_is_refused(bot: OfflineBot, subteam: Any) -> None:
    event = bot.slack.disable_group(GROUP)
    event["event"]["subteam"] = subteam
    assert (await bot.sender.event(event)).status == 400


async def test_events_for_other_groups_change_nothing(bot: OfflineBot) -> None:
    await invite(bot, f"d@example.com {ACCOUNT}")
    bot.slack.usergroups["S0OTHERS"] = []
    delivered = await bot.sender.event(bot.slack.change_members("S0OTHERS", [ALICE]))
    assert delivered.status == 200
    await settle(bot)
    assert reads(bot) == 1


# ---- Slack failing while the members are read: fail closed, and say why ----------------------

FAILURES = {
    "no_such_subteam": (MethodFault(error="no_such_subteam"), "has no user group"),
    "missing_scope": (MethodFault(error="missing_scope"), "usergroups:read"),
    "plan": (MethodFault(error="plan_upgrade_required"), "plan has no user groups"),
    "ratelimited": (MethodFault(error="ratelimited"), "limiting how often"),
    "internal_error": (MethodFault(error="internal_error"), "Slack answered internal_error"),
    "http_503": (MethodFault(status=503), "Slack answered HTTP 503"),
    "timeout": (MethodFault(delay=3.0), "did not answer within 0.3 s"),
}


@pytest.fixture
async def uncached(
    emulator: ChimeEmulator, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OfflineBot]:
    """TTL 0: every check reads the group, so a fault set after filing meets the click."""
    monkeypatch.setattr(approvers_module, "GROUP_FETCH_TIMEOUT", 0.3)
    overrides = {"chime_approvers": GROUP, "chime_group_cache_ttl": 0}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as running:
        yield running


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_a_click_fails_closed_when_slack_cannot_list_the_group(
    uncached: OfflineBot, failure: tuple[MethodFault, str]
) -> None:
    fault, why = failure
    bot = uncached
    await invite(bot, f"e@example.com {ACCOUNT}")
    card = the_card(bot)
    bot.slack.method_faults[LIST] = fault
    (note,) = await click(bot, card, "Approve", ALICE)
    assert_valid_message(note)
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    text = all_text(note)
    assert "approver group S0APPROVERS" in text and why in text and "nothing was done" in text
    request = await only_request(bot)
    assert request.status == Status.PENDING and bot.emulator.count("CreateUser") == 0
    assert buttons_left(card.current), "the card still offers the decision"
    assert (await bot.runtime.store.audit_trail(request.id))[-1].action == "refused"

    del bot.slack.method_faults[LIST]  # Slack recovers: nothing was cached, the next click works
    assert await click(bot, card, "Approve", ALICE) == []
    assert bot.emulator.count("CreateUser") == 1


def buttons_left(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks", []))


async def test_filing_fails_closed_too(uncached: OfflineBot) -> None:
    uncached.slack.method_faults[LIST] = MethodFault(error="ratelimited")
    note = await invite(uncached, f"f@example.com {ACCOUNT}")
    text = all_text(note)
    assert "Request not filed" in text and "limiting how often" in text
    assert uncached.slack.calls_to("chat.postMessage") == []
    assert await uncached.runtime.store.list_open(now=0) == []
    assert uncached.emulator.count("ListAccounts") == 0


@pytest.mark.parametrize(
    "members",
    [["<!everyone>"], ["U0ALICE", "<@U0ALICE|x>"], [12345]],
    ids=["markup", "forged-mention", "not-a-string"],
)
async def test_a_member_list_that_is_not_user_ids_grants_nothing(
    uncached: OfflineBot, members: list[Any]
) -> None:
    await invite(uncached, f"g@example.com {ACCOUNT}")
    uncached.slack.usergroups[GROUP] = members
    (note,) = await click(uncached, the_card(uncached), "Approve", ALICE)
    assert "no list of user IDs" in all_text(note)
    assert not unescaped_angle_brackets(note)
    assert uncached.emulator.count("CreateUser") == 0


# ---- filing: a request no one could approve is not filed -------------------------------------


@pytest.mark.parametrize(
    ("members", "why"),
    [([REQUESTER], "only approver"), ([], "have no members")],
    ids=["requester-alone", "empty-group"],
)
async def test_no_one_but_the_requester_in_the_groups_refuses_filing(
    emulator: ChimeEmulator, slack: SlackStandIn, members: list[str], why: str
) -> None:
    slack.usergroups["S0SECOND"] = list(members)
    slack.usergroups[GROUP] = list(members)
    overrides: dict[str, object] = {"chime_approvers": f"{GROUP},S0SECOND"}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        note = await invite(bot, f"solo@example.com {ACCOUNT}")
        text = all_text(note)
        assert "Request not filed" in text and why in text and "Nothing was filed" in text
        assert bot.slack.calls_to("chat.postMessage") == []
        assert await bot.runtime.store.list_open(now=0) == []
        assert bot.emulator.count("ListAccounts") == 0
        # Someone else may file: the requester is an approver for them.
        await invite(bot, f"other@example.com {ACCOUNT}", user="U0SOMEONE")
        assert len(bot.slack.calls_to("chat.postMessage")) == int(bool(members))


async def test_a_listed_user_settles_filing_without_asking_slack(
    emulator: ChimeEmulator, slack: SlackStandIn
) -> None:
    slack.method_faults[LIST] = MethodFault(status=500)
    async with offline_bot(
        {"chime_approvers": f"U0DIRECT,{GROUP}"}, emulator=emulator, slack=slack
    ) as bot:
        await invite(bot, f"h@example.com {ACCOUNT}")
        assert await click(bot, the_card(bot), "Approve", "U0DIRECT") == []
        assert bot.emulator.count("CreateUser") == 1
        assert bot.slack.calls_to(LIST) == [], "a listed user needs no group read"


# ---- help and pending ------------------------------------------------------------------------


async def test_help_shows_who_can_approve_now_with_groups_expanded(bot: OfflineBot) -> None:
    exchange = await bot.sender.command("help", user_id=ALICE, channel_id=CHANNEL)
    assert exchange.status == 200 and exchange.ack is None, "answered after reading Slack"
    card = await exchange.reply()
    assert_valid_message(card)
    text = all_text(card)
    assert f"<@{ALICE}>" in text and f"<@{BOB}>" in text and f"<!subteam^{GROUP}>" in text
    assert "You are an approver" in text and "/chime pending" in text

    other = await (await bot.sender.command("help", user_id=REQUESTER, channel_id=CHANNEL)).reply()
    assert "You are an approver" not in all_text(other)


async def test_help_still_answers_when_the_groups_cannot_be_read(bot: OfflineBot) -> None:
    bot.slack.method_faults[LIST] = MethodFault(error="missing_scope")
    card = await (await bot.sender.command("help", user_id=ALICE, channel_id=CHANNEL)).reply()
    assert_valid_message(card)
    text = all_text(card)
    assert "group members unknown" in text and "usergroups:read" in text
    assert "You are an approver" not in text, "unknown is not yes"


async def test_pending_is_for_group_members(bot: OfflineBot) -> None:
    await invite(bot, f"p@example.com {ACCOUNT}")
    listing = await bot.sender.command("pending", user_id=BOB, channel_id=CHANNEL)
    assert "p@example.com" in all_text(await listing.reply())
    refused = await bot.sender.command("pending", user_id=REQUESTER, channel_id=CHANNEL)
    assert "Approvers only" in all_text(await refused.reply())


# ---- settings, `chime-bot check`, the stand-in and the cache ---------------------------------


def test_approvers_take_user_and_group_ids_mixed() -> None:
    settings = load_settings("check", chime_approvers=" U0AAA, S0GROUP ,W0BBB")
    policy = Policy.from_settings(settings)
    assert policy.approvers == {"U0AAA", "W0BBB"} and policy.approver_groups == {"S0GROUP"}
    assert settings.chime_group_cache_ttl == 60


def test_bad_approver_ids_and_ttl_are_one_line_each_and_exit_2() -> None:
    # One command is enough: every command runs the same validation (tests/test_cli.py).
    command = "serve"
    env = {
        "CHIME_APPROVERS": "U0AAA,S0GROUP,@admins,<!subteam^S0X>",
        "CHIME_GROUP_CACHE_TTL": "-1",
    }
    result = run_cli(command, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    (approvers,) = [p for p in problems if p.startswith("  - CHIME_APPROVERS:")]
    assert "@admins, <!subteam^S0X>" in approvers and "S0123ABCD" in approvers
    assert "U0AAA" not in approvers.split(":", 1)[1].split("(like")[0]
    assert any(p.startswith("  - CHIME_GROUP_CACHE_TTL:") for p in problems)


async def test_check_shows_each_group_and_who_can_approve_now(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Any
) -> None:
    emulator, slack = peers
    slack.usergroups[GROUP] = [ALICE, BOB]
    env = offline_env(
        slack,
        emulator,
        tmp_path,
        CHIME_APPROVERS=f"U0DIRECT,{GROUP}",
        CHIME_APPROVAL_CHANNEL="",
        CHIME_DEFAULT_ACCOUNT="",
        # STS too, as in a deployment: else check asks AWS's real STS, which a test cannot
        # reach, and waits out botocore's retries (10 s and more) for a line not read here.
        AWS_ENDPOINT_URL_STS=moto_dynamo.url,
    )
    checked = await run_check(env)
    assert f"✓ Approver group {GROUP}" in checked.out
    assert f"{ALICE}, {BOB}" in checked.line(f"Approver group {GROUP}")
    assert f"{ALICE}, {BOB}, U0DIRECT" in checked.line("Approvers now")

    slack.scopes = tuple(s for s in slack.scopes or () if s != "usergroups:read")
    checked = await run_check(env)
    assert checked.code == 1
    line = checked.line(f"Approver group {GROUP}")
    assert line.startswith("✗") and "lacks the usergroups:read scope" in line
    assert "fix: Add usergroups:read" in line and "reinstall" in line
    assert "Approvers now" not in checked.out, "no claim about who can approve"

    slack.scopes = None
    slack.usergroups.clear()
    assert "no user group with that ID" in (await run_check(env)).line(f"Approver group {GROUP}")


@pytest.mark.parametrize("as_missing", [False, True], ids=["empty-list", "no_such_subteam"])
async def test_a_disabled_group_grants_no_one(
    emulator: ChimeEmulator, slack: SlackStandIn, as_missing: bool
) -> None:
    """The reference leaves open how a disabled group answers without include_disabled; under
    either answer its members cannot approve, and the bot never asks for disabled groups."""
    slack.disabled_usergroups.add(GROUP)
    slack.disabled_as_missing = as_missing
    async with offline_bot(
        {"chime_approvers": f"U0DIRECT,{GROUP}"}, emulator=emulator, slack=slack
    ) as bot:
        await invite(bot, f"dis@example.com {ACCOUNT}")
        (note,) = await click(bot, the_card(bot), "Approve", ALICE)
        assert "You can't decide" in all_text(note)
        assert bot.emulator.count("CreateUser") == 0
        assert all("include_disabled" not in c.args for c in bot.slack.calls_to(LIST))


async def test_the_standin_answers_as_slacks_reference_says(slack: SlackStandIn) -> None:
    slack.disabled_usergroups.add("S0OFF")
    slack.usergroups["S0OFF"] = [ALICE]
    await slack.start()
    try:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        assert (await client.usergroups_users_list(usergroup=GROUP))["users"] == [ALICE, BOB]
        assert (await client.usergroups_users_list(usergroup="S0OFF"))["users"] == []
        on = await client.usergroups_users_list(usergroup="S0OFF", include_disabled=True)
        assert on["users"] == [ALICE]
        with pytest.raises(SlackApiError) as missing:
            await client.usergroups_users_list(usergroup="S0NOPE")
        assert missing.value.response["error"] == "no_such_subteam"
        slack.scopes = ("commands",)
        with pytest.raises(SlackApiError) as scope:
            await client.usergroups_users_list(usergroup=GROUP)
        assert scope.value.response["error"] == "missing_scope"
        assert scope.value.response["needed"] == "usergroups:read"
    finally:
        await slack.stop()


async def test_concurrent_checks_read_a_group_once_and_a_change_is_never_lost(
    slack: SlackStandIn,
) -> None:
    slack.method_faults[LIST] = MethodFault(delay=0.2)  # reads overlap
    await slack.start()
    try:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        policy = Policy(frozenset({CHANNEL}), frozenset(), frozenset({GROUP}))
        approvers = Approvers(policy, slack_fetch(client), ttl=60)
        found = await asyncio.gather(*(approvers.policy() for _ in range(20)))
        assert all(p.approvers == {ALICE, BOB} for p in found)
        assert len(slack.calls_to(LIST)) == 1, "one read for twenty waiting checks"

        # A change event arriving while a read is in flight: that read is not cached.
        slack.usergroups[GROUP] = [BOB]
        approvers.changed(GROUP)
        stale = asyncio.ensure_future(approvers.members(GROUP))
        # The stand-in answers as of the request (late): once it has the read, the answer is
        # fixed, however long this machine takes to get there.
        await slack.wait_for(lambda: [c.method for c in slack.attempts].count(LIST) == 2)
        slack.usergroups[GROUP] = [ALICE]
        approvers.changed(GROUP)
        assert await stale == {BOB}, "that read saw the members before the second change"
        assert await approvers.members(GROUP) == {ALICE}, "and it was not cached"
        assert len(slack.calls_to(LIST)) == 3
    finally:
        await slack.stop()


async def test_unreachable_slack_and_unreadable_answers_fail_closed(slack: SlackStandIn) -> None:
    closed = AsyncWebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/")  # refused
    with pytest.raises(approvers_module.ApproversUnknown) as unreachable:
        await slack_fetch(closed)(GROUP)
    assert "could not be reached" in unreachable.value.message

    slack.method_faults[LIST] = MethodFault(status=200)  # 200, but text where JSON belongs
    await slack.start()
    try:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        with pytest.raises(approvers_module.ApproversUnknown) as unreadable:
            await slack_fetch(client)(GROUP)
        assert "no usable answer" in unreadable.value.message
        approvers = Approvers(
            Policy(frozenset(), frozenset(), frozenset({GROUP})), slack_fetch(client), 60
        )
        verdict = await approvers.check(lambda p: p.may_decide(ALICE, REQUESTER))
        assert not verdict.allowed and "nothing was done" in verdict.reason
    finally:
        await slack.stop()
