"""The template's alarms count the bot's own JSON log lines (no Prometheus scraper on AWS): for
each metric filter, the bot is made to go through what it watches, and the line it writes, as
bot/logs.py formats it for CloudWatch, must match the filter; lines of the healthy path must
not."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.logs import JsonFormatter
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVER, BotProcess, OfflineBot, offline_bot
from tests.approvals.test_clock_skew import SKEW, Pair, pair
from tests.approvals.test_invite import APPROVERS, click, invite, the_card
from tests.chime.test_chime_errors import card_for
from tests.clock import VirtualClock
from tests.deploy.template import matches, resource

pytest_plugins = ("tests.dynamo",)
__all__ = ["pair"]  # a fixture, used by name

FILTERS = {
    "breaker": "ChimeBreakerOpenFilter",
    "failed": "FailedApprovalsFilter",
    "not_ready": "NotReadyFilter",
    "clock_skew": "ClockSkewFilter",
}


def pattern(which: str) -> str:
    found: str = resource(FILTERS[which])["Properties"]["FilterPattern"]
    return found


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """What the awslogs driver would ship: each record as the bot's JSON formatter writes it."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def counted(which: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if matches(pattern(which), line)]


@pytest.fixture
async def bot(
    emulator: ChimeEmulator, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[OfflineBot]:
    caplog.set_level("INFO")
    overrides = {"chime_approvers": ",".join(APPROVERS), "chime_retry_budget": 2.0}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def test_chime_breaker_open_is_counted_once_per_opening(
    bot: OfflineBot, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await card_for(bot)  # Chime answering: nothing to count
    assert not counted("breaker", json_lines(caplog))

    # All of Chime down: a lookup also asks ListUsers of the accounts it knows by now, and any
    # answer would end the run of failures that opens the breaker.
    for operation in ("ListAccounts", "ListUsers", "GetUser"):
        bot.emulator.inject(operation, Fault("ServiceUnavailableException", times=-1))
    await card_for(bot)
    await card_for(bot, "user alan@example.com")  # refused at once by the open breaker
    (line,) = counted("breaker", json_lines(caplog))
    assert line["level"] == "warning" and "not answering" in line["msg"]

    bot.emulator.clear_faults()
    cool_down = bot.runtime.deps.directory.calls.breaker.cool_down  # type: ignore[union-attr]
    clock.advance(cool_down)
    await card_for(bot)
    lines = json_lines(caplog)
    assert len(counted("breaker", lines)) == 1, "closing again is not an opening"
    assert any(line.get("outcome") == "chime_breaker_closed" for line in lines)


async def test_a_failed_approval_is_counted(
    bot: OfflineBot, caplog: pytest.LogCaptureFixture
) -> None:
    await invite(bot, 'fine@example.com --account "Example Corp"')
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    assert not counted("failed", json_lines(caplog)), "an approval that worked"

    bot.slack.messages.clear()
    await invite(bot, 'flaky@example.com --account "Example Corp"')
    bot.emulator.inject("CreateUser", Fault("ServiceUnavailableException", times=-1))
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    (line,) = counted("failed", json_lines(caplog))
    assert line["request_id"].startswith("REQ-") and line["outcome"] == "failed"


async def test_readiness_lost_is_counted_once_and_its_return_logged(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    """A real `chime-bot serve`, its JSON log as CloudWatch gets it; the store made unusable as
    in tests/test_startup.py, by another process holding SQLite's write lock."""
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    bot = await BotProcess(emulator.url, slack, store_path, session).start()

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in bot.log().splitlines() if line.startswith("{")]

    async def readyz(want: int) -> None:
        for _ in range(400):
            async with session.get(f"{bot.url}/readyz") as response:
                if response.status == want:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"/readyz never answered {want}")

    try:
        await readyz(200)
        assert not counted("not_ready", lines())
        blocker = sqlite3.connect(store_path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            await readyz(503)
            await readyz(503)  # asked again: still one line
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await readyz(200)
    finally:
        assert await bot.stop() == 0
    (line,) = counted("not_ready", lines())
    assert line["level"] == "warning" and "store unusable" in line["msg"]
    assert [entry["outcome"] for entry in lines() if entry.get("outcome") == "ready_again"]


async def test_readiness_lost_is_logged_in_socket_mode_where_nothing_probes_it(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    """No load balancer asks /readyz in Socket Mode: the sweeper asks, so the alarm still
    hears of a store gone unusable. Nothing here calls /readyz."""
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    bot = BotProcess(
        emulator.url,
        slack,
        store_path,
        session,
        SLACK_APP_TOKEN="xapp-1-A0CHIMEBOT-1-standin",
        CHIME_SWEEP_INTERVAL="0.2",
    )
    await bot.launch()
    try:
        await slack.wait_connected()
        blocker = sqlite3.connect(store_path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            await bot.wait_log('"outcome": "not_ready"')
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await bot.wait_log('"outcome": "ready_again"')
    finally:
        assert await bot.stop() == 0
    lines = [json.loads(line) for line in bot.log().splitlines() if line.startswith("{")]
    (line,) = counted("not_ready", lines)
    assert "socket connected" in line["msg"] and "store unusable" in line["msg"]


async def test_a_replica_whose_clock_is_off_is_counted_and_an_honest_one_is_not(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    honest, ahead = await pair(SKEW)
    # The sweep at start-up: the one ahead skips it and says so, once.
    for _ in range(500):
        if counted("clock_skew", json_lines(caplog)):
            break
        await asyncio.sleep(0.01)
    (line,) = counted("clock_skew", json_lines(caplog))
    assert line["level"] == "warning" and "ahead of AWS" in line["msg"]
    caplog.clear()
    await honest.runtime.sweep_once()
    assert not counted("clock_skew", json_lines(caplog))
    await ahead.runtime.sweep_once()  # and on every sweep while it stays off
    assert len(counted("clock_skew", json_lines(caplog))) == 1
