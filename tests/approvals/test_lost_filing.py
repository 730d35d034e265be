"""No orphan request after a filing whose answer was lost (issue 24, item 2).

DynamoDB carries out the filing's TransactWriteItems, and the answer never arrives: the proxy in
front of moto's server (tests/lossy_proxy.py) cuts the connection after forwarding the call, and
cuts botocore's two retries as well, as a link that stays down for seconds does. The bot must
read the request back and carry on, not tell the requester it "did not finish" while the store
holds a pending request no approver can see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from bot.approvals.orphans import ORPHAN_GRACE, UNSEEN
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, OfflineBot, offline_bot
from bot.store import DynamoStore, Status, StoreError, StoreUnanswered
from tests.approvals.test_invite import dms_to, invite, only_request, the_card
from tests.blockkit import all_text
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import REQUESTER
from tests.lossy_proxy import LossyProxy

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

ACCOUNT = '--account "Example Corp"'  # EnterpriseLWA in the emulator's seed


@pytest.fixture
async def proxy(
    moto_dynamo: MotoDynamo, dynamo_table: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LossyProxy]:
    lossy = LossyProxy(moto_dynamo.url)
    # The bot's store reaches DynamoDB through the proxy (botocore reads this when it builds
    # the client); the test's own admin client still talks to moto directly.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", await lossy.start())
    yield lossy
    await lossy.stop()


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, clock: VirtualClock, dynamo_table: str, proxy: LossyProxy
) -> AsyncIterator[OfflineBot]:
    overrides = {
        "chime_store_url": f"dynamodb://{dynamo_table}",
        "chime_sweep_interval": 3600,
        **TRUST_VIRTUAL_TIME,
    }
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def test_filing_carried_out_whose_answer_was_lost_is_filed_with_one_card(
    bot: OfflineBot, proxy: LossyProxy
) -> None:
    proxy.lose_next("TransactWriteItems")
    note = await invite(bot, f"lost.answer@example.com {ACCOUNT}")
    assert proxy.lost == ["TransactWriteItems"], "the filing's answer was lost"

    assert "awaits approval" in note["text"], all_text(note)
    assert "did not finish" not in all_text(note)
    card = the_card(bot)
    request = await only_request(bot)
    assert request.status == Status.PENDING
    assert (request.card_channel, request.card_ts) == (DEMO_APPROVAL_CHANNEL, card.ts)

    # Filing again points at that request, whose card exists.
    again = await invite(bot, f"lost.answer@example.com {ACCOUNT}")
    assert f"already has an open request {request.id}" in again["text"]
    assert the_card(bot).ts == card.ts, "no second card"


async def test_filing_that_never_landed_says_nothing_was_filed_and_can_be_filed_again(
    bot: OfflineBot, proxy: LossyProxy
) -> None:
    proxy.lose_next("TransactWriteItems", carry_out=False)
    note = await invite(bot, f"never.landed@example.com {ACCOUNT}")
    assert proxy.lost == ["TransactWriteItems"]

    assert "nothing was filed" in all_text(note)
    assert "did not finish" not in all_text(note)
    assert [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
    assert await bot.runtime.store.list_by_status(Status.PENDING) == []

    assert "awaits approval" in (await invite(bot, f"never.landed@example.com {ACCOUNT}"))["text"]
    the_card(bot)


async def test_bulk_invite_whose_lead_filing_answer_was_lost_is_filed_whole_with_one_card(
    bot: OfflineBot, proxy: LossyProxy
) -> None:
    emails = ["lead.lost@example.com", "second@example.com", "third@example.com"]
    proxy.lose_next("TransactWriteItems")  # the lead is filed first, alone
    note = await invite(bot, f"{' '.join(emails)} {ACCOUNT}")
    assert proxy.lost == ["TransactWriteItems"]

    assert "3 addresses awaits approval" in note["text"], all_text(note)
    card = the_card(bot)
    pending = await bot.runtime.store.list_by_status(Status.PENDING)
    assert sorted(r.email for r in pending) == sorted(emails)
    assert {(r.card_channel, r.card_ts) for r in pending} == {(DEMO_APPROVAL_CHANNEL, card.ts)}
    assert all(e in all_text(card.message) for e in emails)


async def test_filing_the_store_cannot_confirm_is_withdrawn_by_the_sweep_and_told_once(
    bot: OfflineBot, proxy: LossyProxy, clock: VirtualClock
) -> None:
    # The answer is lost, and so is every attempt of the read that would tell.
    proxy.lose_next("TransactWriteItems", then_cut={"TransactWriteItems": 2, "GetItem": 3})
    note = await invite(bot, f"unconfirmed@example.com {ACCOUNT}")
    assert "cannot tell whether it was" in all_text(note), all_text(note)
    assert [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []
    orphan = await only_request(bot)  # it was stored: pending, blocking, and without a card
    assert (orphan.status, orphan.card_ts) == (Status.PENDING, None)

    await bot.runtime.sweep_once()  # within the grace: a filing may still be at work
    assert (await only_request(bot)).status == Status.PENDING
    clock.advance(ORPHAN_GRACE + 1)
    await bot.runtime.sweep_once()
    await bot.runtime.sweep_once()

    withdrawn = await only_request(bot)
    assert withdrawn.status == Status.DENIED
    trail = await bot.runtime.store.audit_trail(orphan.id)
    assert [e.action for e in trail] == ["filed", "withdrawn"]
    assert UNSEEN in trail[1].detail.values(), trail[1].detail
    (dm,) = dms_to(bot, REQUESTER)
    assert "withdrawn" in all_text(dm) and orphan.id in all_text(dm)
    # The email is free again: filing it posts a card.
    assert "awaits approval" in (await invite(bot, f"unconfirmed@example.com {ACCOUNT}"))["text"]
    the_card(bot)


async def test_store_calls_an_error_unanswered_only_when_no_answer_came(
    proxy: LossyProxy, moto_dynamo: MotoDynamo, dynamo_table: str
) -> None:
    async with await DynamoStore.open(dynamo_table) as store:
        proxy.lose_next("GetItem", carry_out=False)  # and botocore's two retries
        with pytest.raises(StoreUnanswered):
            await store.get("REQ-AAAAAAAAAA")
        moto_dynamo.admin.delete_table(TableName=dynamo_table)
        with pytest.raises(StoreError) as refused:  # an answer: the table is gone
            await store.get("REQ-AAAAAAAAAA")
        assert not isinstance(refused.value, StoreUnanswered)
