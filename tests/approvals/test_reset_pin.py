"""`/chime reset-pin` (issue 21): your own PIN without approval, anyone else's behind one, and
the new PIN in one place only: a direct message to the Slack user whose email is the Chime
user's. The tests search every Slack call, response_url post, log line, audit entry and the
store's own bytes for it.

The stand-in's people: U0REQUESTER is ada@example.com, U0APPROVER is alan@example.com (both
Chime users of Example Corp in the emulator's seed).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import configure
from bot.offline.emulator import Fault
from bot.offline.standin_server import MethodFault
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot
from bot.store import Status
from tests.approvals.test_invite import click, dms_to, the_card
from tests.approvals.test_lifecycle_changes import bot, command, every_request
from tests.blockkit import all_text
from tests.conftest import REQUESTER
from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

__all__ = ["bot"]  # the fixture, on both stores, as the lifecycle tests use it

ADA_DM = "D0REQUESTER"  # the stand-in's DM channel with U0REQUESTER (tests.approvals.test_invite)


@pytest.fixture
def bot_logs() -> Iterator[io.StringIO]:
    """Everything the bot logs, as its own logging set-up writes it, at its most verbose
    (LOG_LEVEL=DEBUG): what an operator's log pipeline would receive."""
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    named = ("botocore", "boto3", "slack_sdk.web", "aiohttp.server")
    levels = {name: logging.getLogger(name).level for name in named}
    stream = io.StringIO()
    configure("DEBUG", "json", stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in kept[0]:
        root.addHandler(handler)
    root.setLevel(kept[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def pin_of(bot: OfflineBot, email: str) -> str:
    (user,) = bot.emulator.find_users(email)
    return str(user["PersonalPIN"])


def store_bytes(bot: OfflineBot, request: pytest.FixtureRequest) -> str:
    """Everything the store holds, as stored: the SQLite files, or a scan of the table."""
    url = str(bot.runtime.settings.chime_store_url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        return "".join(p.read_bytes().decode("latin-1") for p in files)
    moto: MotoDynamo = request.getfixturevalue("moto_dynamo")
    table = url.removeprefix("dynamodb://")
    items = moto.admin.scan(TableName=table)["Items"]
    return json.dumps(items)


async def everything_but_the_owners_dm(
    bot: OfflineBot, request: pytest.FixtureRequest, logs: io.StringIO, owner_dm: str
) -> str:
    """Every place the PIN must not be, as one text."""
    seen: list[str] = []
    for call in bot.slack.attempts:
        if call.method == "chat.postMessage" and call.args.get("channel") == owner_dm:
            continue
        seen.append(json.dumps(call.args, default=str))
    seen += [json.dumps(r) for rs in bot.slack.responses.values() for r in rs]
    seen += [m.channel + json.dumps(m.message) for m in bot.slack.messages if m.channel != owner_dm]
    logged = logs.getvalue()
    assert '"request_id"' in logged  # the bot's own lines were captured: the search means something
    seen.append(logged)
    for req in await every_request(bot):
        seen.append(repr(req))
        seen += [repr(e) for e in await bot.runtime.store.audit_trail(req.id)]
    seen.append(store_bytes(bot, request))
    return "\n".join(seen)


async def test_your_own_pin_is_reset_without_approval_and_only_your_dm_shows_it(
    bot: OfflineBot, request: pytest.FixtureRequest, bot_logs: io.StringIO
) -> None:
    before = pin_of(bot, "ada@example.com")
    note = await command(bot, "reset-pin ADA@example.com")
    assert bot.emulator.count("ResetPersonalPIN") == 1
    pin = pin_of(bot, "ada@example.com")
    assert pin != before
    assert "sent to its owner by direct message" in all_text(note)
    assert pin not in all_text(note)
    assert [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
    (dm,) = [m for m in dms_to(bot, REQUESTER) if pin in all_text(m)]
    assert pin not in dm["text"]  # notifications and lock screens show the fallback text
    (stored,) = await every_request(bot)
    assert stored.status == Status.APPROVED and stored.result == {
        "user_id": stored.params["user_id"],
        "pin_sent_to": REQUESTER,
    }
    trail = [e.action for e in await bot.runtime.store.audit_trail(stored.id)]
    assert trail == ["filed", "ran_without_approval", "approved"]
    assert pin not in await everything_but_the_owners_dm(bot, request, bot_logs, ADA_DM)


async def test_someone_elses_pin_needs_approval_and_goes_to_the_owner_not_the_requester(
    bot: OfflineBot, request: pytest.FixtureRequest, bot_logs: io.StringIO
) -> None:
    note = await command(bot, "reset-pin alan@example.com")  # ada asks for alan's
    assert "awaits approval" in all_text(note)
    assert bot.emulator.count("ResetPersonalPIN") == 0
    card = the_card(bot)
    assert "ResetPersonalPIN" in all_text(card.message)
    await click(bot, card, "Approve", "U0APPROVER2")
    assert bot.emulator.count("ResetPersonalPIN") == 1
    pin = pin_of(bot, "alan@example.com")
    alan_dm = "D0APPROVER"
    shown = [m for m in bot.slack.messages if pin in all_text(m.message)]
    assert [m.channel for m in shown] == [alan_dm]
    assert "sent to its owner by direct message" in all_text(card.current)
    assert pin not in await everything_but_the_owners_dm(bot, request, bot_logs, alan_dm)


async def test_a_pin_with_no_slack_owner_is_shown_to_no_one(
    bot: OfflineBot, request: pytest.FixtureRequest, bot_logs: io.StringIO
) -> None:
    await command(bot, "reset-pin margaret@example.com")  # no Slack user has her address
    card = the_card(bot)
    await click(bot, card, "Approve", DEMO_APPROVER)
    pin = pin_of(bot, "margaret@example.com")
    assert "finds it in their Amazon Chime settings" in all_text(card.current)
    assert pin not in await everything_but_the_owners_dm(bot, request, bot_logs, "nobody")


async def test_a_dm_that_fails_after_the_reset_says_so_and_the_pin_goes_nowhere(
    bot: OfflineBot, request: pytest.FixtureRequest, bot_logs: io.StringIO
) -> None:
    bot.slack.method_faults["conversations.open"] = MethodFault(error="cannot_dm_bot")
    note = await command(bot, "reset-pin ada@example.com")
    assert bot.emulator.count("ResetPersonalPIN") == 1
    pin = pin_of(bot, "ada@example.com")
    text = all_text(note)
    assert "was not sent" in text and "Chime settings" in text and pin not in text
    assert pin not in await everything_but_the_owners_dm(bot, request, bot_logs, "nobody")


async def test_a_lost_reset_answer_fails_and_retry_makes_a_new_pin_for_the_owner(
    bot: OfflineBot,
) -> None:
    await command(bot, "reset-pin alan@example.com")
    card = the_card(bot)
    bot.emulator.inject("ResetPersonalPIN", Fault("ServiceFailureException", applied=True))
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert bot.emulator.count("ResetPersonalPIN") == 1  # never repeated blindly
    (stored,) = await every_request(bot)
    assert stored.status == Status.FAILED
    await click(bot, card, "Retry", DEMO_APPROVER)
    assert bot.emulator.count("ResetPersonalPIN") == 2
    pin = pin_of(bot, "alan@example.com")
    assert [m.channel for m in bot.slack.messages if pin in all_text(m.message)] == ["D0APPROVER"]


async def test_when_slack_cannot_say_whose_pin_it_is_it_needs_an_approval(
    bot: OfflineBot,
) -> None:
    bot.slack.method_faults["users.info"] = MethodFault(error="internal_error")
    note = await command(bot, "reset-pin ada@example.com")
    assert "awaits approval" in all_text(note)
    assert bot.emulator.count("ResetPersonalPIN") == 0
