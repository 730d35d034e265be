"""A replica whose clock is off by 2 minutes, on a DynamoDB table shared with an honest one.

Both bots run in this process on one moto table, one emulator and one Slack stand-in; the skew
is injected through one bot's clock dependency (tests/clock.py ShiftedClock). moto and the
emulator answer with the real time in their `Date` header, as AWS does, so each bot measures
its own offset from them (bot/aws_clock.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import InviteRequest, Status
from tests.blockkit import all_text
from tests.clock import ShiftedClock
from tests.conftest import CHANNEL, REQUESTER

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo  # noqa: F401

pytest_plugins = ("tests.dynamo",)

SKEW = 120.0
ACCOUNT = "Example Corp"  # EnterpriseLWA in the emulator's seed: approval = CreateUser

Pair = Callable[..., Any]


@pytest.fixture
async def pair(peers: tuple[ChimeEmulator, SlackStandIn], dynamo_table: str) -> AsyncIterator[Pair]:
    """Starts (honest, skewed): two bots on one table, the second's clock `offset` seconds off
    the real one. Their sweeps run only when a test calls them."""
    emulator, slack = peers
    async with AsyncExitStack() as stack:

        async def start(offset: float, **overrides: object) -> tuple[OfflineBot, OfflineBot]:
            settings = {
                "chime_store_url": f"dynamodb://{dynamo_table}",
                "chime_sweep_interval": 3600,
                **overrides,
            }
            bots = []
            for shift in (0.0, offset):
                bots.append(
                    await stack.enter_async_context(
                        offline_bot(
                            settings, emulator=emulator, slack=slack, clock=ShiftedClock(shift)
                        )
                    )
                )
            return bots[0], bots[1]

        yield start


async def file(bot: OfflineBot, email: str) -> PostedMessage:
    exchange = await bot.sender.command(
        f'invite {email} --account "{ACCOUNT}"', user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "awaits approval" in (await exchange.reply())["text"]
    (card,) = [
        m
        for m in bot.slack.messages
        if m.channel == DEMO_APPROVAL_CHANNEL and email in all_text(m.message)
    ]
    return card


async def request_of(bot: OfflineBot, card: PostedMessage) -> InviteRequest:
    found = await bot.runtime.store.get(str(buttons(card.message)[0][1]["value"]))
    assert found is not None
    return found


def dms(slack: SlackStandIn) -> list[str]:
    return [all_text(m.message) for m in slack.messages if m.channel == "D" + REQUESTER[1:]]


async def test_a_replica_ahead_does_not_expire_a_request_early(
    pair: Pair, peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    emulator, slack = peers
    honest, ahead = await pair(SKEW, chime_request_ttl=60)
    early = await file(honest, "early@example.com")

    # 120 s ahead, its clock puts the 60 s deadline behind it already.
    await ahead.runtime.sweep_once()
    assert (await request_of(honest, early)).status == Status.PENDING
    assert not any("expired" in text for text in dms(slack))
    assert buttons(early.current), "the card still offers the decision"
    assert emulator.count("CreateUser") == 0


async def test_a_replica_ahead_does_not_settle_another_replicas_approval_in_flight(
    pair: Pair, peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    emulator, slack = peers
    honest, ahead = await pair(SKEW)
    early = await file(honest, "inflight@example.com")

    # The honest replica's approval is in flight (CreateUser slow); the one ahead sweeps, the
    # claim's lease (60 s) long past by its own clock.
    emulator.set_latency(1.5, "CreateUser")
    click = await honest.sender.click(
        early.current, "Approve", user_id=DEMO_APPROVER, channel_id=early.channel
    )
    assert click.status == 200
    for _ in range(200):
        if (await request_of(honest, early)).status == Status.APPROVING:
            break
        await asyncio.sleep(0.01)
    await ahead.runtime.sweep_once()
    assert emulator.count("CreateUser") == 0, "the sweep ran while the call was in flight"
    await slack.wait_for(lambda: "Created user" in all_text(early.current))

    done = await request_of(honest, early)
    assert done.status == Status.APPROVED
    trail = [e.action for e in await honest.runtime.store.audit_trail(done.id)]
    assert trail == ["filed", "approve_claimed", "approved"]
    assert emulator.count("CreateUser") == 1
    assert not any("not created" in text or "Failed" in text for text in dms(slack))


async def test_a_replica_behind_does_not_approve_after_the_deadline(
    pair: Pair, peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    emulator, slack = peers
    honest, behind = await pair(-SKEW, chime_request_ttl=1)
    late = await file(honest, "late@example.com")
    request = await request_of(honest, late)
    # Real time passes the deadline (nothing to wait on but the time itself).
    await asyncio.sleep(request.expires_at + 0.2 - honest.runtime.deps.clock.now())

    # 120 s behind, its clock still puts the deadline ahead.
    click = await behind.sender.click(
        late.current, "Approve", user_id=DEMO_APPROVER, channel_id=late.channel
    )
    assert click.status == 200
    await slack.wait_for(lambda: bool(slack.responses[click.response_id]))
    (note,) = slack.responses[click.response_id]
    assert "clock" in all_text(note) and "Try again shortly" in all_text(note)
    assert emulator.count("CreateUser") == 0
    assert (await request_of(honest, late)).status == Status.PENDING


async def test_readyz_and_metrics_report_each_replicas_offset(
    pair: Pair, session: ClientSession
) -> None:
    honest, ahead = await pair(SKEW)

    async def ready(bot: OfflineBot) -> tuple[int, dict[str, Any]]:
        async with session.get(f"{bot.runtime.url}/readyz") as resp:
            return resp.status, await resp.json()

    status, body = await ready(ahead)
    assert status == 503 and not body["ready"]
    assert "ahead of AWS" in body["clock"] and "bound 5s" in body["clock"]
    offset = ahead.runtime.deps.approvals.aws_clock.offset  # type: ignore[union-attr]
    assert offset is not None and SKEW - 3 < offset.estimate < SKEW + 3

    status, body = await ready(honest)
    assert status == 200 and body["ready"]
    assert "AWS" in body["clock"]

    async with session.get(f"{ahead.runtime.url}/metrics") as resp:
        metrics = await resp.text()
    (line,) = [m for m in metrics.splitlines() if m.startswith("chime_bot_clock_offset_seconds")]
    assert SKEW - 3 < float(line.split()[-1]) < SKEW + 3


async def test_on_sqlite_the_offset_from_chime_is_reported_but_decides_nothing(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession
) -> None:
    """One machine's store: every replica shares its clock, so nothing is compared. The
    emulator answers with a Date header, as AWS does, so the offset is still measured."""
    emulator, slack = peers
    clock = ShiftedClock(SKEW)
    async with offline_bot({"chime_request_ttl": 600}, emulator, clock, slack) as bot:
        card = await file(bot, "alone@example.com")
        async with session.get(f"{bot.runtime.url}/readyz") as resp:
            assert resp.status == 200
            body = await resp.json()
        assert "ahead of AWS" in body["clock"] and "from Chime" in body["clock"]
        assert "one machine's store" in body["clock"]
        click = await bot.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        assert click.status == 200
        await slack.wait_for(lambda: "Created user" in all_text(card.current))
        assert emulator.count("CreateUser") == 1
