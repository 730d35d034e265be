"""Time-bound access (issue 21) in the request form, end to end over signed HTTP: its "Access for"
select files what `/chime invite … --for …` files, an account's `max_access` is held in the form
(a longer choice is a field error naming the maximum; "No end" gets the maximum), and the
approved access ends as the slash command's does. Submissions are built from the modal the Slack
stand-in holds, as in tests/approvals/test_request_form.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cards.form import Field
from bot.offline.emulator import ChimeEmulator
from bot.offline.standin_views import OpenView
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest
from tests.approvals.test_invite import APPROVERS, click, dms_to, invite
from tests.approvals.test_request_form import CORP, TEAM, fields, open_form, requests, submit
from tests.blockkit import all_text
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import REQUESTER

HOUR = 3600


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides = {"chime_approvers": ",".join(APPROVERS), **TRUST_VIRTUAL_TIME}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


@pytest.fixture
async def capped(
    emulator: ChimeEmulator, clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[OfflineBot]:
    """Example Corp's access lasts at most a day; Example Team's has no cap."""
    path = tmp_path / "policy.yml"
    path.write_text(
        f"default:\n  approvers: [{', '.join(APPROVERS)}]\n"
        "accounts:\n  Example Corp:\n    max_access: 1d\n",
        encoding="utf-8",
    )
    settings = {"chime_policy_file": str(path), **TRUST_VIRTUAL_TIME}
    async with offline_bot(settings, emulator=emulator, clock=clock) as running:
        yield running


def access_select(form: OpenView) -> dict[str, Any]:
    (block,) = [b for b in form.view["blocks"] if b.get("block_id") == Field.ACCESS_FOR]
    return dict(block)


def for_(email: str, access: str, account: str = CORP) -> dict[str, str]:
    return {**fields(email, account), Field.ACCESS_FOR: access}


async def by_email(bot: OfflineBot, email: str) -> InviteRequest:
    (found,) = [r for r in await requests(bot) if r.email == email]
    return found


async def test_the_form_offers_access_for_with_no_end_chosen(bot: OfflineBot) -> None:
    block = access_select(await open_form(bot))
    assert block["label"]["text"] == "Access for" and block["type"] == "input"
    element = block["element"]
    assert element["type"] == "static_select"
    labels = [o["text"]["text"] for o in element["options"]]
    assert labels == ["No end", "8 hours", "1 day", "7 days", "30 days", "90 days"]
    assert element["initial_option"]["text"]["text"] == "No end"


async def test_the_form_for_8h_files_what_invite_for_8h_files_and_it_ends(
    bot: OfflineBot, clock: VirtualClock
) -> None:
    form = await open_form(bot)
    exchange = await submit(bot, form, for_("formed@example.com", "8h"))
    assert exchange.ack is None
    await invite(bot, 'typed@example.com --account "Example Corp" --for 8h new hire')
    by_form = await by_email(bot, "formed@example.com")
    by_command = await by_email(bot, "typed@example.com")
    assert by_form.params == by_command.params == {"access_for": str(8 * HOUR)}
    assert "for 8h from approval" in all_text(dms_to(bot, REQUESTER)[0])

    card = next(m for m in bot.slack.messages if by_form.id in all_text(m.message))
    assert "for 8h from approval" in all_text(card.message)
    approved_at = clock.now()
    await click(bot, card, "Approve", DEMO_APPROVER)
    (running,) = await bot.runtime.store.list_time_bound()
    assert running.id == by_form.id and running.access_until == approved_at + 8 * HOUR
    clock.advance(8 * HOUR + 1)
    await bot.runtime.sweep_once()
    assert bot.emulator is not None
    (user,) = bot.emulator.find_users("formed@example.com")
    assert user.get("UserRegistrationStatus") == "Suspended"


async def test_no_end_in_the_form_files_an_invite_without_an_end(bot: OfflineBot) -> None:
    form = await open_form(bot)
    assert (await submit(bot, form, fields("lasting@example.com"))).ack is None
    assert (await by_email(bot, "lasting@example.com")).params == {}


async def test_more_than_the_accounts_max_access_is_refused_in_the_form(
    capped: OfflineBot,
) -> None:
    form = await open_form(capped)
    hint = access_select(form)["hint"]["text"]
    assert "Example Corp" in hint and "1d" in hint
    exchange = await submit(capped, form, for_("long@example.com", "7d"))
    assert exchange.ack is not None and exchange.ack["response_action"] == "errors"
    assert set(exchange.ack["errors"]) == {Field.ACCESS_FOR}
    said = exchange.ack["errors"][Field.ACCESS_FOR]
    assert "Example Corp" in said and "at most 1d" in said and "7d" in said
    assert not await requests(capped) and not dms_to(capped, REQUESTER)
    assert not capped.slack.views.refused_answers
    # The account without a cap takes it.
    assert (await submit(capped, form, for_("long@example.org", "7d", TEAM))).ack is None
    assert (await by_email(capped, "long@example.org")).params == {"access_for": str(7 * 86_400)}


async def test_no_end_on_a_capped_account_gets_its_maximum_as_the_command_does(
    capped: OfflineBot,
) -> None:
    form = await open_form(capped)
    assert (await submit(capped, form, fields("capped@example.com"))).ack is None
    await invite(capped, 'typed@example.com --account "Example Corp" new hire')
    by_form = await by_email(capped, "capped@example.com")
    by_command = await by_email(capped, "typed@example.com")
    assert by_form.params == by_command.params == {"access_for": str(86_400)}
    assert "for 1d from approval" in all_text(dms_to(capped, REQUESTER)[0])


async def test_an_access_the_form_never_offered_is_refused(bot: OfflineBot) -> None:
    form = await open_form(bot)

    def forge(payload: dict[str, Any]) -> None:
        state = payload["view"]["state"]["values"][Field.ACCESS_FOR][Field.ACCESS_FOR]
        state["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": "999d"}

    exchange = await bot.sender.submit(
        form.id, for_("forged@example.com", "8h"), user_id=REQUESTER, alter=forge
    )
    assert exchange.ack is not None and set(exchange.ack["errors"]) == {Field.ACCESS_FOR}
    assert not await requests(bot)
