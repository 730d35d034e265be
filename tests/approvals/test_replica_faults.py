"""Several `chime-bot serve` replicas on one DynamoDB table, under the faults of issue 24: three
sweeping the same expired bulk invites, a filing whose answer was lost on the way back, one
replica whose clock runs two minutes ahead, and a replica killed while its CreateUser is in
flight.

Every replica is a real OS process reaching moto's server through AWS_ENDPOINT_URL_DYNAMODB
(one of them through a proxy that can lose answers); the Chime emulator and the Slack stand-in
run in the test. The skewed replica gets its clock through the bot's clock dependency
(tests/skewed_serve.py), not by patching time. Each test counts what people are told.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.emulator.controls import STALL, Fault
from bot.offline.slack_standin import PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, BotProcess
from bot.store import DynamoStore, Status
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER
from tests.lossy_proxy import LossyProxy

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

CORP = '--account "Example Corp"'  # EnterpriseLWA in the emulator's seed: CreateUser
DM = "D" + REQUESTER.lstrip("U")  # the requester's DM channel in the stand-in


@pytest.fixture
def replica_env(moto_dynamo: MotoDynamo, dynamo_table: str) -> dict[str, str]:
    return {
        "CHIME_STORE_URL": f"dynamodb://{dynamo_table}",
        "CHIME_SWEEP_INTERVAL": "0.2",  # five sweeps a second each: many chances to collide
        **moto_dynamo.env(),
    }


Launch = Any  # the `replicas` fixture's context manager factory


@pytest.fixture
async def replicas(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> AsyncIterator[Launch]:
    """Start replicas, each with its own environment (and launcher); all are stopped at the
    end, a killed one included."""
    emulator, slack = peers
    started: list[BotProcess] = []

    @asynccontextmanager
    async def launch(*envs: dict[str, str]) -> AsyncIterator[list[BotProcess]]:
        bots = [
            BotProcess(emulator.url, slack, tmp_path / "state.db", session, **env) for env in envs
        ]
        started.extend(bots)
        await asyncio.gather(*(bot.start() for bot in bots))
        yield bots

    try:
        yield launch
    finally:
        await asyncio.gather(
            *(b.stop() for b in started if b.proc is not None and b.proc.returncode is None)
        )


def addresses(batch: int) -> list[str]:
    return [f"p{i:02d}@b{batch}.example.org" for i in range(15)]


def dms(slack: SlackStandIn) -> list[PostedMessage]:
    return [m for m in slack.messages if m.channel == DM]


def cards(slack: SlackStandIn) -> list[PostedMessage]:
    return [m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]


async def file(bot: BotProcess, text: str) -> str:
    exchange = await bot.sender.command(f"invite {text}", user_id=REQUESTER, channel_id=CHANNEL)
    assert exchange.status == 200
    # Generous: three replicas and moto share two cores with the rest of the suite.
    return str((await exchange.reply(timeout=60))["text"])


async def test_three_replicas_expiring_bulk_invites_send_one_note_and_one_card_update_each(
    peers: tuple[ChimeEmulator, SlackStandIn], replicas: Launch, replica_env: dict[str, str]
) -> None:
    """Issue 24, item 1: three replicas expired the addresses of one bulk invite between them
    and each sent its own DM and card update."""
    _, slack = peers
    # The deadline outlasts the filing even on a loaded machine, so that all four are filed
    # whole before the first expires.
    env = {**replica_env, "CHIME_REQUEST_TTL": "10", "CHIME_MAX_CLOCK_SKEW": "2"}
    async with replicas(env, env, env) as bots:
        # As reported: four bulk invites of fifteen addresses.
        filed = await asyncio.gather(
            *(file(bots[batch % 3], " ".join(addresses(batch)) + f" {CORP}") for batch in range(4))
        )
        assert all("awaits approval" in said for said in filed)
        await slack.wait_for(lambda: len(dms(slack)) >= 4, timeout=60)
        await asyncio.sleep(2.0)  # ten more sweeps of each replica: room for a second note
    assert len(dms(slack)) == 4, "one note per bulk invite"
    assert all("expired" in all_text(m.message).lower() for m in dms(slack))
    for card in cards(slack):
        expired = [u for u in card.updates if "Expired" in all_text(u)]
        assert len(expired) == 1, "one card update for the expiry"
        assert buttons(card.current) == []


async def test_a_filing_whose_answer_was_lost_is_filed_with_one_card_across_replicas(
    peers: tuple[ChimeEmulator, SlackStandIn],
    replicas: Launch,
    replica_env: dict[str, str],
    moto_dynamo: MotoDynamo,
) -> None:
    """Issue 24, item 2: DynamoDB committed the filing and its answer was lost; the user was
    told it did not finish, and the request blocked the address with no card."""
    _, slack = peers
    proxy = LossyProxy(moto_dynamo.url)
    await proxy.start()
    try:
        lossy = {**replica_env, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url}
        async with replicas(lossy, replica_env) as (a, b):
            proxy.lose_next("TransactWriteItems")
            said = await file(a, f"lost@example.com {CORP}")
            assert proxy.lost == ["TransactWriteItems"], "the filing's answer was lost"
            assert "awaits approval" in said
            (card,) = cards(slack)
            assert "lost@example.com" in all_text(card.message)
            # Filing again, on the other replica, points at the request that card shows.
            again = await file(b, f"lost@example.com {CORP}")
            (shown,) = {str(v["value"]) for _, v in buttons(card.message)}
            assert shown in again
            await asyncio.sleep(1.0)  # sweeps of both: none may withdraw a request with a card
        assert len(cards(slack)) == 1
        assert dms(slack) == []
    finally:
        await proxy.stop()


async def test_a_replica_two_minutes_ahead_expires_nothing_early_and_settles_no_call_in_flight(
    peers: tuple[ChimeEmulator, SlackStandIn],
    replicas: Launch,
    replica_env: dict[str, str],
    dynamo_table: str,
    session: ClientSession,
) -> None:
    """Issue 24, item 3: a replica 120 s ahead settled another's in-flight approval as "not
    created" (a Retry then made a second CreateUser), and expired requests early."""
    emulator, slack = peers
    env = {**replica_env, "CHIME_REQUEST_TTL": "60"}
    async with replicas(env) as (honest,):
        skewed = BotProcess(
            emulator.url, slack, honest.log_path.parent / "state.db", session, **env
        )
        skewed.launcher = ("-m", "tests.skewed_serve", "--offset", "120")
        await skewed.launch()
        try:
            readyz = await _readyz_once_measured(skewed, session)
            assert readyz["status"] == 503 and "clock" in readyz["body"]
            assert "ahead of AWS" in readyz["body"]["clock"]  # e.g. "120.3s ahead of AWS (…)"
            assert 118 <= float(readyz["body"]["clock"].split("s ")[0]) <= 122

            emulator.set_latency(3.0, "CreateUser")  # the honest replica's call stays in flight
            assert "awaits approval" in await file(honest, f"slow@example.com {CORP}")
            assert "awaits approval" in await file(honest, f"later@example.com {CORP}")
            slow, later = cards(slack)
            click = await honest.sender.click(
                slow.current, "Approve", user_id=DEMO_APPROVER, channel_id=slow.channel
            )
            assert click.status == 200
            await slack.wait_for(lambda: "Created user" in all_text(slow.current), timeout=30)
            await asyncio.sleep(1.0)  # the skewed replica sweeps on, five times a second
        finally:
            await skewed.stop()
    assert emulator.count("CreateUser") == 1
    for update in slow.updates:
        assert "Failed" not in all_text(update) and "has no user" not in all_text(update)
    assert [m for m in dms(slack) if "fail" in all_text(m.message).lower()] == []
    assert "Expired" not in all_text(later.current)
    async with await DynamoStore.open(dynamo_table) as store:
        pending = await store.list_by_status(Status.PENDING)
    assert [r.email for r in pending] == ["later@example.com"]


async def _readyz_once_measured(bot: BotProcess, session: ClientSession) -> dict[str, Any]:
    """/readyz of a replica that may never become ready, once it has measured its clock."""
    for _ in range(600):
        if bot.proc is not None and bot.proc.returncode is not None:
            raise AssertionError(f"bot exited: {bot.log()[-2000:]}")
        try:
            async with session.get(f"{bot.url}/readyz") as resp:
                body = await resp.json()
                if "clock" in body and "not measured" not in str(body["clock"]):
                    return {"status": resp.status, "body": body}
        except Exception:  # not listening yet
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"no measured clock in /readyz: {bot.log()[-2000:]}")


@pytest.mark.parametrize("took_effect", [True, False], ids=["created", "never-created"])
async def test_a_replica_killed_mid_call_is_settled_by_asking_chime_never_twice(
    peers: tuple[ChimeEmulator, SlackStandIn],
    replicas: Launch,
    replica_env: dict[str, str],
    dynamo_table: str,
    took_effect: bool,
) -> None:
    """SIGKILL while CreateUser is in flight (Chime holds the call; it takes effect or not):
    the other replica leaves it alone while the claimer's lease holds, then asks Chime, and
    says "not created" only if Chime has no such user; a Retry then creates it once."""
    emulator, slack = peers
    # The lease must outlast the longest call (budget 2 + read 2 + connect 3 = 7 s).
    env = {
        **replica_env,
        "CHIME_RETRY_BUDGET": "2",
        "CHIME_READ_TIMEOUT": "2",
        "CHIME_EXECUTION_LEASE": "8",
    }
    async with replicas(env, env) as (a, b):
        assert "awaits approval" in await file(a, f"killed@example.com {CORP}")
        (card,) = cards(slack)
        emulator.inject("CreateUser", Fault(STALL, hold=30.0, applied=took_effect))
        click = await a.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        assert click.status == 200
        for _ in range(500):  # the emulator notes a held call as it starts holding it
            if emulator.count("CreateUser") >= 1:
                break
            await asyncio.sleep(0.02)
        await a.kill()
        await asyncio.sleep(2.0)  # within the lease: the survivor must leave it alone
        assert "Approved, working" in all_text(card.current)
        await slack.wait_for(lambda: "Approved, working" not in all_text(card.current), timeout=40)
        shown = all_text(card.current)
        if took_effect:
            assert "Created user" in shown and buttons(card.current) == []
        else:
            assert "has no user with this address" in shown
            retry = await b.sender.click(
                card.current, "Retry", user_id=DEMO_APPROVER, channel_id=card.channel
            )
            assert retry.status == 200
            await slack.wait_for(lambda: "Created user" in all_text(card.current), timeout=30)
    assert len(emulator.find_users("killed@example.com")) == 1
    assert emulator.count("CreateUser") == (1 if took_effect else 2)
    async with await DynamoStore.open(dynamo_table) as store:
        (done,) = await store.list_by_status(Status.APPROVED)
    assert done.email == "killed@example.com"
    notes = [all_text(m.message) for m in dms(slack)]
    assert len(notes) == (1 if took_effect else 2), notes
    assert "Approved" in notes[-1] or "created" in notes[-1].lower()
