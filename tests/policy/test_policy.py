"""The per-account policy file (CHIME_POLICY_FILE), end to end over signed HTTP: channels, user
types, TTL and approvers per account, group approvers per account, and every way the file can
be ambiguous failing closed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.cards.base import clean
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import click, only_request, settle
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets
from tests.clock import VirtualClock
from tests.conftest import CHANNEL, REQUESTER

CORP_ID = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"  # "Example Corp" in the emulator's seed
TEAM_ID = "7ea70000-5e3d-4b8a-9f21-000000000002"  # "Example Team"
TEAM_CHANNEL = "C0TEAMCHAN"
CORP_BOSS, TEAM_BOSS, TEAM_BOSS2, ALICE = "U0CORPBOSS", "U0TEAMBOSS", "U0TEAMBOSS2", "U0ALICE"
CORP_GROUP = "S0CORPADMINS"
# Text built to forge formatting, if it ever reached mrkdwn: a broadcast, a link, bold, code.
HOSTILE = "<!everyone> *urgent* <https://evil.example|Example Corp> `ok` &lt;@U0CORPBOSS&gt;"

POLICY = f"""
default:
  channels: []
accounts:
  Example Corp:
    channels: [{CHANNEL}]
    approvers: [{CORP_BOSS}, {CORP_GROUP}]
    user_types: [PrivateUser]
    ttl: 3600
  {TEAM_ID}:            # Example Team, by account ID
    channels: [{TEAM_CHANNEL}]
    approvers: [{TEAM_BOSS}, {TEAM_BOSS2}]
    approvals_required: 2
"""


def policy_file(tmp_path: Path, text: str, name: str = "policy.yml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def slack() -> SlackStandIn:
    standin = SlackStandIn()
    standin.usergroups[CORP_GROUP] = [ALICE]
    return standin


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, slack: SlackStandIn, clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[OfflineBot]:
    async with offline_bot(
        with_file(tmp_path, POLICY), emulator=emulator, clock=clock, slack=slack
    ) as running:
        yield running


async def ask(
    bot: OfflineBot, text: str, channel: str = CHANNEL, user: str = REQUESTER
) -> dict[str, Any]:
    """`/chime <text>` from `channel`; the reply, whether in the ack or after it."""
    exchange = await bot.sender.command(text, user_id=user, channel_id=channel)
    assert exchange.status == 200
    note = exchange.ack if exchange.ack is not None else await exchange.reply()
    assert_valid_message(note)
    assert not unescaped_angle_brackets(note)
    return note


def cards(bot: OfflineBot) -> list[Any]:
    return [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


async def nothing_open(bot: OfflineBot) -> bool:
    return await bot.runtime.store.list_open(now=0) == [] and cards(bot) == []


# ---- filing -----------------------------------------------------------------------------------


async def test_a_channel_allowed_for_one_account_is_not_for_another(bot: OfflineBot) -> None:
    refused = await ask(bot, 'invite t@example.com --account "Example Team"')
    text = all_text(refused)
    assert "Request not filed" in text and "only from these channels" in text
    assert TEAM_CHANNEL in text and "Example Team" in text
    assert await nothing_open(bot)

    filed = await ask(bot, 'invite t@example.com --account "Example Team"', TEAM_CHANNEL)
    assert "awaits approval" in all_text(filed)
    filed = await ask(bot, 'invite c@example.com --account "Example Corp"')
    assert "awaits approval" in all_text(filed)
    assert len(cards(bot)) == 2


async def test_a_channel_no_account_allows_is_refused_in_the_ack(bot: OfflineBot) -> None:
    exchange = await bot.sender.command(
        "user a@example.com", user_id=REQUESTER, channel_id="C0NOPE"
    )
    assert exchange.ack is not None and "not enabled in this channel" in all_text(exchange.ack)
    assert "policy file" in all_text(exchange.ack)
    # A channel that some account allows may look people up, as before.
    found = await ask(bot, "user nobody@example.com", TEAM_CHANNEL)
    assert "No Chime user" in all_text(found)


async def test_a_user_type_the_account_does_not_take_is_refused(bot: OfflineBot) -> None:
    note = await ask(bot, 'invite kiosk@example.com --account "Example Corp" --type SharedDevice')
    text = all_text(note)
    assert "takes only PrivateUser users" in text and "not SharedDevice" in text
    assert await nothing_open(bot)
    # Example Team's entry names no user types: both are allowed there.
    await ask(
        bot, 'invite k@example.com --account "Example Team" --type SharedDevice', TEAM_CHANNEL
    )
    assert (await only_request(bot)).user_type == "SharedDevice"


async def test_each_account_has_its_own_ttl(bot: OfflineBot) -> None:
    await ask(bot, 'invite ttl@example.com --account "Example Corp"')
    corp = await only_request(bot)
    assert corp.expires_at - corp.created_at == 3600
    await ask(bot, 'invite ttl@example.com --account "Example Team"', TEAM_CHANNEL)
    team = next(r for r in await bot.runtime.store.list_open(now=0) if r.account_id == TEAM_ID)
    assert team.expires_at - team.created_at == bot.runtime.settings.chime_request_ttl


async def test_a_two_approval_account_needs_two_approvers_besides_the_requester(
    bot: OfflineBot,
) -> None:
    note = await ask(bot, 'invite x@example.com --account "Example Team"', TEAM_CHANNEL, TEAM_BOSS)
    text = all_text(note)
    assert "needs 2 approvals" in text and "only 1 such approver" in text
    assert await nothing_open(bot)
    # Anyone else has two approvers who are not themselves.
    await ask(bot, 'invite x@example.com --account "Example Team"', TEAM_CHANNEL)
    assert len(cards(bot)) == 1


# ---- deciding ---------------------------------------------------------------------------------


async def test_approvers_of_one_account_cannot_decide_anothers_requests(bot: OfflineBot) -> None:
    await ask(bot, 'invite team@example.com --account "Example Team"', TEAM_CHANNEL)
    (card,) = cards(bot)
    for outsider in (CORP_BOSS, ALICE):  # listed for Corp, and a member of Corp's group
        (refusal,) = await click(bot, card, "Approve", outsider)
        assert_valid_message(refusal)
        assert "You can't decide" in all_text(refusal) and "entry" in all_text(refusal)
    request = await only_request(bot)
    assert request.status == Status.PENDING
    assert bot.emulator is not None and bot.emulator.count("InviteUsers") == 0
    refused = [e for e in await bot.runtime.store.audit_trail(request.id) if e.action == "refused"]
    assert [e.actor for e in refused] == [CORP_BOSS, ALICE]
    assert await click(bot, card, "Deny", TEAM_BOSS) == []
    assert (await only_request(bot)).status == Status.DENIED


async def test_a_group_approves_for_its_account_only(bot: OfflineBot) -> None:
    await ask(bot, 'invite corp@example.com --account "Example Corp"')
    (card,) = cards(bot)
    assert await click(bot, card, "Approve", ALICE) == []
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.decided_by == ALICE
    assert bot.emulator is not None and bot.emulator.count("CreateUser") == 1


async def test_a_change_event_for_an_accounts_group_takes_effect_at_once(
    bot: OfflineBot,
) -> None:
    await ask(bot, 'invite ev@example.com --account "Example Corp"', user="U0SOMEONE")
    (card,) = cards(bot)
    assert (await bot.sender.event(bot.slack.change_members(CORP_GROUP, []))).status == 200
    await settle(bot)
    (refusal,) = await click(bot, card, "Approve", ALICE)
    assert "You can't decide" in all_text(refusal)
    assert (await only_request(bot)).status == Status.PENDING


async def test_pending_lists_only_the_accounts_one_approves_for(bot: OfflineBot) -> None:
    await ask(bot, 'invite pc@example.com --account "Example Corp"')
    await ask(bot, 'invite pt@example.com --account "Example Team"', TEAM_CHANNEL)
    corp = all_text(await ask(bot, "pending", user=ALICE))
    assert "pc@example.com" in corp and "pt@example.com" not in corp
    team = all_text(await ask(bot, "pending", user=TEAM_BOSS))
    assert "pt@example.com" in team and "pc@example.com" not in team
    stranger = all_text(await ask(bot, "pending", user="U0STRANGER"))
    assert "Approvers only" in stranger and "no account" in stranger


async def test_reminders_mention_the_accounts_own_approvers(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    await ask(bot, 'invite rt@example.com --account "Example Team"', TEAM_CHANNEL)
    clock.advance(bot.runtime.settings.chime_remind_after + 1)
    await bot.runtime.sweep_once()
    (reminder,) = [m for m in cards(bot) if m.message.get("thread_ts")]
    text = reminder.message["text"]
    assert f"<@{TEAM_BOSS}>" in text and f"<@{TEAM_BOSS2}>" in text
    assert CORP_BOSS not in text and "U0APPROVER" not in text
    reminders = bot.runtime.reminders
    assert reminders is not None
    corp = replace(await only_request(bot), account_id=CORP_ID, account_name="Example Corp")
    assert reminders.approvers_of(corp) == [CORP_BOSS, CORP_GROUP], "groups are mentioned too"


# ---- what the file means where it is ambiguous: fail closed ----------------------------------


def with_file(tmp_path: Path, text: str) -> dict[str, object]:
    return {"chime_policy_file": policy_file(tmp_path, text)}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            f"accounts:\n  Example Corp: {{approvers: [U0A, U0B]}}\n  {CORP_ID}: {{ttl: 60}}\n",
            "names the account “Example Corp” more than once",
        ),
        (
            "accounts:\n  Example Crop: {approvers: [U0A, U0B]}\n",
            "matches no Chime account",
        ),
    ],
    ids=["named-twice", "misspelt-entry"],
)
async def test_an_ambiguous_file_blocks_the_account(
    emulator: ChimeEmulator, tmp_path: Path, text: str, why: str
) -> None:
    async with offline_bot(with_file(tmp_path, text), emulator=emulator) as bot:
        note = await ask(bot, 'invite amb@example.com --account "Example Corp"')
        assert "Request not filed" in all_text(note) and why in all_text(note)
        assert await nothing_open(bot)


async def test_a_name_shared_by_two_accounts_must_be_given_as_an_id(
    emulator: ChimeEmulator, tmp_path: Path
) -> None:
    emulator.add_account(name="Example Corp")
    text = "accounts:\n  example corp: {approvers: [U0A, U0B]}\n"
    async with offline_bot(with_file(tmp_path, text), emulator=emulator) as bot:
        note = await ask(bot, f"invite two@example.com --account {CORP_ID}")
        assert "matches 2 accounts" in all_text(note) and "account ID" in all_text(note)
        assert await nothing_open(bot)


async def test_hostile_names_in_the_file_reach_cards_only_as_plain_text(
    emulator: ChimeEmulator, tmp_path: Path
) -> None:
    # A JSON string is a YAML double-quoted scalar.
    text = f"accounts:\n  {json.dumps(HOSTILE)}: {{approvers: [U0A]}}\n"
    async with offline_bot(with_file(tmp_path, text), emulator=emulator) as bot:
        note = await ask(bot, 'invite h@example.com --account "Example Corp"')
        assert "matches no Chime account" in all_text(note)
        (quoted,) = [b for b in note["blocks"] if "evil.example" in json.dumps(b)]
        assert quoted["text"]["type"] == "plain_text"
        assert "<!everyone>" in quoted["text"]["text"], "shown as it is, literally"
        assert "<!everyone>" not in note["text"], "and escaped in the fallback text"
        assert await nothing_open(bot)


async def test_no_file_is_exactly_the_environment(emulator: ChimeEmulator) -> None:
    async with offline_bot(emulator=emulator) as plain_bot:
        await ask(plain_bot, 'invite env@example.com --account "Example Team" --type SharedDevice')
        request = await only_request(plain_bot)
        assert (
            request.expires_at - request.created_at == plain_bot.runtime.settings.chime_request_ttl
        )
        assert request.approvals_required == 1


# ---- /chime help: a dry run of the policy where the person stands ----------------------------


def dry_run_of(card: dict[str, Any]) -> tuple[str, str]:
    """The help card's two answers: what may be requested here, what may be approved."""
    text = "\n".join(in_order(card["blocks"]))
    requests = text.split("you may request users for:", 1)[1].split("You may approve", 1)[0]
    approvals = text.split("You may approve requests for:", 1)[1]
    return requests, approvals


def in_order(blocks: list[dict[str, Any]]) -> list[str]:
    texts = []
    for block in blocks:
        objects = [block["text"]] if "text" in block else block.get("elements", [])
        texts += [str(o.get("text", "")) for o in objects if isinstance(o, dict)]
    return texts


async def test_help_answers_what_one_may_request_here_and_approve(bot: OfflineBot) -> None:
    requests, approvals = dry_run_of(await ask(bot, "help"))
    assert "Example Corp: PrivateUser users" in requests and "Example Team" not in requests
    assert "Example Labs" not in requests, "a directory account takes no invitations"
    assert "no account" in approvals

    requests, _ = dry_run_of(await ask(bot, "help", TEAM_CHANNEL))
    assert "Example Team: PrivateUser or SharedDevice users" in requests
    assert "Example Corp" not in requests

    card = await ask(bot, "help", TEAM_CHANNEL, TEAM_BOSS)
    requests, approvals = dry_run_of(card)
    assert "Example Team" not in requests, "two other approvers are needed; there is one"
    assert "Example Team" in approvals and "Example Corp" not in approvals
    assert "/chime pending" in all_text(card)

    _, approvals = dry_run_of(await ask(bot, "help", user=ALICE))
    assert "Example Corp" in approvals and "Example Team" not in approvals


async def test_help_shows_hostile_account_names_as_plain_text(
    emulator: ChimeEmulator, tmp_path: Path
) -> None:
    emulator.add_account(name=HOSTILE)
    text = f"default: {{channels: [{CHANNEL}], approvers: [U0A, U0B]}}\n"
    async with offline_bot(with_file(tmp_path, text), emulator=emulator) as bot:
        card = await ask(bot, "help")
        (shown,) = [b for b in card["blocks"] if "evil.example" in json.dumps(b)]
        assert shown["text"]["type"] == "plain_text"
        assert f"{clean(HOSTILE)}: PrivateUser" in shown["text"]["text"], "literally, as cleaned"


async def test_a_file_gone_ambiguous_after_filing_blocks_decisions_too(
    emulator: ChimeEmulator, slack: SlackStandIn, tmp_path: Path
) -> None:
    store = {"chime_store_url": f"sqlite:///{tmp_path / 'state.db'}"}
    await slack.start()
    try:
        async with offline_bot(
            {**store, **with_file(tmp_path, POLICY)}, emulator, slack=slack
        ) as bot:
            await ask(bot, 'invite late@example.com --account "Example Corp"')
            (card,) = cards(bot)
        twice = POLICY + f"  {CORP_ID}: {{ttl: 60}}\n"
        async with offline_bot(
            {**store, **with_file(tmp_path, twice)}, emulator, slack=slack
        ) as bot:
            (refusal,) = await click(bot, card, "Approve", CORP_BOSS)
            assert "more than once" in all_text(refusal)
            request = await only_request(bot)
            assert request.status == Status.PENDING
            trail = await bot.runtime.store.audit_trail(request.id)
            assert trail[-1].action == "refused" and trail[-1].actor == CORP_BOSS
    finally:
        await slack.stop()


async def test_a_two_approval_account_counts_group_members_but_not_the_requester(
    emulator: ChimeEmulator, slack: SlackStandIn, tmp_path: Path
) -> None:
    slack.usergroups["S0PAIR"] = [REQUESTER, ALICE]
    text = f"default: {{channels: [{CHANNEL}], approvers: [S0PAIR], approvals_required: 2}}\n"
    async with offline_bot(with_file(tmp_path, text), emulator=emulator, slack=slack) as bot:
        note = await ask(bot, 'invite pair@example.com --account "Example Corp"')
        assert "needs 2 approvals" in all_text(note) and "only 1 such approver" in all_text(note)
        assert await nothing_open(bot)
        slack.usergroups["S0PAIR"] = [REQUESTER, ALICE, "U0CAROL"]
        assert (
            await bot.sender.event(slack.change_members("S0PAIR", [REQUESTER, ALICE, "U0CAROL"]))
        ).status == 200
        await settle(bot)
        await ask(bot, 'invite pair@example.com --account "Example Corp"')
        assert len(cards(bot)) == 1
