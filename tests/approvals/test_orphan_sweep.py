"""The sweep withdraws a request no one can see (issue 24, item 2): stored pending, its card
never posted, as a replica that stopped between the two steps of filing leaves it.

Two bots sweep one store at once, on each backend: the request is withdrawn once, audited with
the reason, and its requester is told once; within the grace nothing is touched, since a filing
may still be posting its card.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.approvals.orphans import ORPHAN_GRACE, UNSEEN
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, OfflineBot, offline_bot
from bot.store import InviteRequest, RequestStore, Status, new_request_id
from tests.approvals.test_invite import ENTERPRISE, dms_to, invite
from tests.blockkit import all_text
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock
from tests.conftest import CHANNEL, REQUESTER

pytest_plugins = ("tests.dynamo",)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return f"dynamodb://{request.getfixturevalue('dynamo_table')}"


@pytest.fixture
async def bots(
    emulator: ChimeEmulator, clock: VirtualClock, store_url: str
) -> AsyncIterator[tuple[OfflineBot, OfflineBot]]:
    """Two bots on one store, one Slack and one Chime, as two replicas are."""
    slack = SlackStandIn()
    overrides = {
        "chime_store_url": store_url,
        "chime_sweep_interval": 3600,
        **TRUST_VIRTUAL_TIME,
    }
    async with (
        offline_bot(overrides, emulator=emulator, clock=clock, slack=slack) as a,
        offline_bot(overrides, emulator=emulator, clock=clock, slack=slack) as b,
    ):
        yield a, b


def stranded(now: float, email: str, batch_id: str | None = None) -> InviteRequest:
    """A request as filing drafts it; filed through the store and never given a card."""
    request_id = new_request_id()
    return InviteRequest(
        id=request_id,
        email=email,
        user_type="PrivateUser",
        reason="",
        account_id=ENTERPRISE,
        account_name="Example Corp",
        account_type="EnterpriseLWA",
        requester=REQUESTER,
        origin_channel=CHANNEL,
        created_at=now,
        expires_at=now + 86_400,
        updated_at=now,
        batch_id=batch_id,
    )


async def file_stranded(
    store: RequestStore, now: float
) -> tuple[InviteRequest, list[InviteRequest]]:
    """One single request and one bulk invite of two, as a replica that died before posting
    their cards leaves them."""
    single = await store.file(stranded(now, "single@example.com"), now=now)
    lead = stranded(now, "lead@example.com")
    lead = await store.file(replace(lead, batch_id=lead.id), now=now)
    other = await store.file(stranded(now, "other@example.com", lead.id), now=now)
    return single, [lead, other]


async def test_two_bots_sweeping_withdraw_each_unseen_request_once_and_tell_once(
    bots: tuple[OfflineBot, OfflineBot], clock: VirtualClock
) -> None:
    a, b = bots
    store = a.runtime.store
    single, batch = await file_stranded(store, clock.now())
    everyone = [single, *batch]

    clock.advance(ORPHAN_GRACE - 1)  # a filing may still be posting the card
    await asyncio.gather(a.runtime.sweep_once(), b.runtime.sweep_once())
    assert [(await store.get(r.id)).status for r in everyone] == [Status.PENDING] * 3  # type: ignore[union-attr]
    assert dms_to(a, REQUESTER) == []

    clock.advance(2)
    await asyncio.gather(*(bot.runtime.sweep_once() for bot in (a, b, a, b)))

    for request in everyone:
        now = await store.get(request.id)
        assert now is not None and now.status == Status.DENIED, request.email
        trail = await store.audit_trail(request.id)
        assert [e.action for e in trail] == ["filed", "withdrawn"], request.email
        assert UNSEEN in trail[1].detail.values()
    notes = sorted(all_text(m) for m in dms_to(a, REQUESTER))
    assert len(notes) == 2, notes  # one per filing: the single request, and the bulk invite
    assert single.id in notes[0] + notes[1] and batch[0].id in notes[0] + notes[1]
    assert all("withdrawn" in n for n in notes)
    assert [m for m in a.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL] == []

    # Nothing blocks the addresses now: filing one again posts its card.
    assert (
        "awaits approval"
        in (await invite(b, 'single@example.com --account "Example Corp"'))["text"]
    )


async def test_a_request_whose_card_was_posted_is_never_withdrawn(
    bots: tuple[OfflineBot, OfflineBot], clock: VirtualClock
) -> None:
    a, b = bots
    assert (
        "awaits approval" in (await invite(a, 'shown@example.com --account "Example Corp"'))["text"]
    )
    clock.advance(ORPHAN_GRACE * 3)
    await asyncio.gather(a.runtime.sweep_once(), b.runtime.sweep_once())
    (request,) = await a.runtime.store.list_by_status(Status.PENDING)
    assert request.email == "shown@example.com" and request.card_ts is not None
    assert dms_to(a, REQUESTER) == []
