"""Two `chime-bot serve` replicas on one DynamoDB table keep every guarantee.

Both are real OS processes reaching moto's server through AWS_ENDPOINT_URL_DYNAMODB; the Chime
emulator and the Slack stand-in run in the test. Nothing is shared between the replicas but the
table, as it would be on two machines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import Exchange, PostedMessage, SlackStandIn, buttons
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, BotProcess
from bot.store import DynamoStore, Status
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER

if TYPE_CHECKING:
    # Only a type here: importing it for real would load the plugin before pytest can
    # rewrite its asserts.
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

ACCOUNT = "Example Corp"  # an EnterpriseLWA account in the emulator's seed: approval = CreateUser


@pytest.fixture
def replica_env(moto_dynamo: MotoDynamo, dynamo_table: str) -> dict[str, str]:
    return {"CHIME_STORE_URL": f"dynamodb://{dynamo_table}", **moto_dynamo.env()}


@pytest.fixture
async def replicas(
    peers: tuple[ChimeEmulator, SlackStandIn],
    session: ClientSession,
    tmp_path: Path,
    replica_env: dict[str, str],
) -> AsyncIterator[list[BotProcess]]:
    """Two running replicas; a test may replace one (restart), and whatever is listed at the
    end is stopped."""
    emulator, slack = peers
    # BotProcess wants a store path: here it only decides where the logs go.
    running = [BotProcess(emulator.url, slack, tmp_path / "state.db", session, **replica_env)]
    running.append(BotProcess(emulator.url, slack, tmp_path / "state.db", session, **replica_env))
    try:
        await asyncio.gather(*(bot.start() for bot in running))
        yield running
    finally:
        await asyncio.gather(*(bot.stop() for bot in running if bot.proc is not None))


async def file_invite(bot: BotProcess, slack: SlackStandIn, email: str) -> PostedMessage:
    """File an invite through `bot`; returns the approval card it posted."""
    exchange = await bot.sender.command(
        f'invite {email} --account "{ACCOUNT}"', user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "awaits approval" in (await exchange.reply())["text"]
    (card,) = [
        m
        for m in slack.messages
        if m.channel == DEMO_APPROVAL_CHANNEL and email in all_text(m.message)
    ]
    return card


def request_id(card: PostedMessage) -> str:
    return str(buttons(card.message)[0][1]["value"])


async def approve(bot: BotProcess, card: PostedMessage) -> Exchange:
    return await bot.sender.click(
        card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
    )


async def test_two_replicas_one_table_exactly_one_chime_call_and_restart_loses_nothing(
    peers: tuple[ChimeEmulator, SlackStandIn],
    replicas: list[BotProcess],
    replica_env: dict[str, str],
    session: ClientSession,
    tmp_path: Path,
    dynamo_table: str,
) -> None:
    emulator, slack = peers
    a, b = replicas

    first = await file_invite(a, slack, "first@example.com")
    # Ten approvals of one card at once, spread over both replicas.
    clicks = await asyncio.gather(*(approve((a, b)[i % 2], first) for i in range(10)))
    assert {c.status for c in clicks} == {200}
    await slack.wait_for(lambda: "Created user" in all_text(first.current))
    # Every losing click is told privately who decided, so all ten have been settled.
    await slack.wait_for(lambda: sum(len(slack.responses[c.response_id]) for c in clicks) == 9)
    assert emulator.count("CreateUser") == 1
    assert len(emulator.find_users("first@example.com")) == 1

    # A second request is filed through B; then A is replaced by a new process.
    second = await file_invite(b, slack, "second@example.com")
    assert await a.stop() == 0
    a = replicas[0] = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, **replica_env
    ).start()

    assert (await approve(a, second)).status == 200
    await slack.wait_for(lambda: "Created user" in all_text(second.current))
    assert emulator.count("CreateUser") == 2

    async with await DynamoStore.open(dynamo_table) as store:
        done = [await store.get(request_id(card)) for card in (first, second)]
        assert [(r.status, r.attempts) for r in done if r] == [(Status.APPROVED, 1)] * 2
        trails = [await store.audit_trail(request_id(card)) for card in (first, second)]
    for trail in trails:
        assert [e.action for e in trail] == ["filed", "approve_claimed", "approved"]
    assert trails[0][1].actor == DEMO_APPROVER


async def test_two_replicas_sweeping_one_table_send_one_reminder_then_tell_of_expiry(
    peers: tuple[ChimeEmulator, SlackStandIn],
    replica_env: dict[str, str],
    session: ClientSession,
    tmp_path: Path,
    dynamo_table: str,
) -> None:
    emulator, slack = peers
    # Both sweep five times a second: together dozens of chances to send a second reminder
    # between the first one and the request's expiry.
    env = {
        **replica_env,
        "CHIME_REMIND_AFTER": "1",
        "CHIME_SWEEP_INTERVAL": "0.2",
        "CHIME_REQUEST_TTL": "6",
    }
    running = [BotProcess(emulator.url, slack, tmp_path / "state.db", session, **env)]
    running.append(BotProcess(emulator.url, slack, tmp_path / "state.db", session, **env))
    try:
        await asyncio.gather(*(bot.start() for bot in running))
        card = await file_invite(running[0], slack, "nudge@example.com")

        def reminders() -> list[PostedMessage]:
            return [m for m in slack.messages if m.message.get("thread_ts") == card.ts]

        def expiry_notes() -> list[PostedMessage]:
            return [m for m in slack.messages if m.channel == "D" + REQUESTER.lstrip("U")]

        await slack.wait_for(lambda: bool(reminders()), timeout=30)
        # Once expired, the request can be reminded no more: every chance has passed.
        await slack.wait_for(lambda: bool(expiry_notes()), timeout=30)
        assert len(reminders()) == 1
        assert "expired" in all_text(expiry_notes()[0].message)
        assert len(expiry_notes()) == 1
    finally:
        await asyncio.gather(*(bot.stop() for bot in running if bot.proc is not None))
    async with await DynamoStore.open(dynamo_table) as store:
        trail = [e.action for e in await store.audit_trail(request_id(card))]
    assert trail == ["filed", "reminded", "expired"]


def test_init_store_creates_the_table_once_and_prints_its_policy(
    moto_dynamo: MotoDynamo,
) -> None:
    import os
    import subprocess
    import sys

    table = f"chime-bot-init-{os.getpid()}"
    env = {**os.environ, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{table}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "init-store", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first, again = cli(), cli()
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert table in first.stdout and "Traceback" not in first.stderr + again.stderr
    assert first.stdout != again.stdout, "the second run reports what it found, not created"
    policy = cli("--print-policy")
    assert f"table/{table}" in policy.stdout and "dynamodb:TransactWriteItems" in policy.stdout
    env["CHIME_STORE_URL"] = "sqlite:///x.db"
    assert cli().returncode == 2


async def test_two_replicas_hold_one_fair_use_cap_between_them(
    peers: tuple[ChimeEmulator, SlackStandIn],
    session: ClientSession,
    tmp_path: Path,
    replica_env: dict[str, str],
    dynamo_table: str,
) -> None:
    emulator, slack = peers
    env = {**replica_env, "CHIME_MAX_OPEN_PER_REQUESTER": "3"}
    running = [
        BotProcess(emulator.url, slack, tmp_path / f"{n}.db", session, **env) for n in range(2)
    ]
    try:
        await asyncio.gather(*(bot.start() for bot in running))

        async def invite(n: int) -> str:
            exchange = await running[n % 2].sender.command(
                f'invite burst{n}@example.com --account "{ACCOUNT}"',
                user_id=REQUESTER,
                channel_id=CHANNEL,
            )
            assert exchange.status == 200
            return all_text(await exchange.reply())

        # One person's burst, spread over both replicas: each replica's own turn-taking holds
        # only its own half, so only the table can hold the cap.
        replies = await asyncio.gather(*(invite(n) for n in range(12)))
    finally:
        await asyncio.gather(*(bot.stop() for bot in running if bot.proc is not None))

    assert sum("awaits approval" in r for r in replies) == 3
    assert sum("Too many open requests" in r for r in replies) == 9
    cards = [m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
    assert len(cards) == 3
    async with await DynamoStore.open(dynamo_table) as store:
        assert len(await store.list_open(now=0)) == 3
