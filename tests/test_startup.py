"""Start-up and shutdown of the real `chime-bot serve` process, against the Slack stand-in.

Slack credentials are verified once, before the bot reports ready, and never on a request's
path; a refused token stops start-up with one line; an unreachable Slack is retried. SIGTERM and
SIGINT stop the process in every state: verifying, connected, reconnecting, never connected.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import BotProcess, free_port
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

APP_TOKEN = "xapp-1-A0CHIMEBOT-1-standin"
RETRY_LINE = "Slack auth.test failed"


def _lines(bot: BotProcess, text: str) -> list[str]:
    return [line for line in bot.log().splitlines() if text in line]


def _assert_quiet(bot: BotProcess) -> None:
    log = bot.log()
    assert "Traceback" not in log, log[-3000:]
    assert '"level": "warning"' not in log.replace(RETRY_LINE, ""), "only retries may warn"


async def _status(session: ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with session.get(url) as resp:
        return resp.status, await resp.json()


# ---- point 1: credentials verified at start-up -------------------------------------------------


@pytest.mark.parametrize(
    "error", ["invalid_auth", "not_authed", "token_revoked", "account_inactive"]
)
async def test_refused_bot_token_stops_start_up_with_one_line_and_exit_2(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path, error: str
) -> None:
    emulator, slack = peers
    slack.api_error = error
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).launch()
    assert await bot.wait_exit(60) == 2
    named = _lines(bot, "SLACK_BOT_TOKEN")
    assert len(named) == 1 and error in named[0], bot.log()
    assert "Traceback" not in bot.log()
    assert "ready" not in bot.log()


async def test_refused_app_token_stops_socket_mode_start_up_with_exit_2(
    emulator: ChimeEmulator, session: ClientSession, tmp_path: Path
) -> None:
    await emulator.start()
    slack = SlackStandIn(app_token=APP_TOKEN)
    await slack.start()
    try:
        bot = await BotProcess(
            emulator.url, slack, tmp_path / "state.db", session, SLACK_APP_TOKEN="xapp-1-old"
        ).launch()
        assert await bot.wait_exit(60) == 2
        named = _lines(bot, "SLACK_APP_TOKEN")
        assert len(named) == 1 and "invalid_auth" in named[0], bot.log()
        assert "Traceback" not in bot.log()
    finally:
        await slack.stop()
        await emulator.stop()


async def test_slack_answering_5xx_is_retried_until_it_recovers(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    slack.api_status = 503
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).launch()
    await bot.wait_log(RETRY_LINE)
    assert (await _status(session, f"{bot.url}/readyz"))[0] == 503
    slack.api_status = None
    await bot.wait_log("chime-bot ready")
    assert (await _status(session, f"{bot.url}/readyz"))[0] == 200
    assert await bot.stop() == 0
    assert "Traceback" not in bot.log()
    assert "HTTP 503" in _lines(bot, RETRY_LINE)[0]


async def test_rate_limited_auth_test_waits_as_long_as_slack_asks(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    slack.api_error, slack.retry_after = "ratelimited", 2
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).launch()
    await bot.wait_log(RETRY_LINE)
    slack.api_error = None
    await bot.wait_log("chime-bot ready")
    (line,) = _lines(bot, RETRY_LINE)
    assert "HTTP 429, error=ratelimited" in line and "retrying in 2.0s" in line
    assert await bot.stop() == 0


async def test_commands_after_start_up_make_no_auth_test_call(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).start()
    assert len(slack.calls_to("auth.test")) == 1, "verified before it reported ready"
    looked_up = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert looked_up.status == 200 and "Ada Lovelace" in all_text(await looked_up.reply())
    helped = await bot.sender.command("help", user_id=REQUESTER, channel_id=CHANNEL)
    assert helped.ack is not None and "/chime invite" in all_text(helped.ack)
    assert len(slack.calls_to("auth.test")) == 1, "no request waits on auth.test"
    assert await bot.stop(signal.SIGINT) == 0
    _assert_quiet(bot)


async def test_socket_mode_verifies_once_and_answers_without_auth_test(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, SLACK_APP_TOKEN=APP_TOKEN
    ).start()
    await slack.wait_connected()
    exchange = await bot.sender.socket_command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "Ada Lovelace" in all_text(await exchange.reply())
    assert len(slack.calls_to("auth.test")) == 1
    assert await bot.stop(signal.SIGINT) == 0  # connected
    _assert_quiet(bot)


async def test_unreachable_slack_is_retried_and_readiness_waits_for_it(
    emulator: ChimeEmulator, session: ClientSession, tmp_path: Path
) -> None:
    await emulator.start()
    slack = SlackStandIn()
    port = free_port()  # nothing listens here yet: connections are refused
    bot = await BotProcess(
        emulator.url,
        slack,
        tmp_path / "state.db",
        session,
        SLACK_API_URL=f"http://127.0.0.1:{port}/api/",
    ).launch()
    try:
        await bot.wait_log(RETRY_LINE, count=2)
        assert (await _status(session, f"{bot.url}/livez"))[0] == 200
        status, body = await _status(session, f"{bot.url}/readyz")
        assert status == 503 and body["slack"] == "not verified"
        early = await bot.sender.command("help", user_id=REQUESTER, channel_id=CHANNEL)
        assert early.status == 503, "no command is half-answered before the token is known"

        await slack.start(port=port)  # Slack comes back
        for _ in range(400):
            if (await _status(session, f"{bot.url}/readyz"))[0] == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"never became ready: {bot.log()[-2000:]}")
        helped = await bot.sender.command("help", user_id=REQUESTER, channel_id=CHANNEL)
        assert helped.ack is not None and "/chime invite" in all_text(helped.ack)
        assert len(slack.calls_to("auth.test")) == 1

        retries = _lines(bot, RETRY_LINE)
        assert len(retries) >= 2
        for line in retries:
            entry = json.loads(line)
            assert entry["level"] == "warning" and "retrying in" in entry["msg"]
            assert "exc" not in entry and "\n" not in entry["msg"]
        assert "Traceback" not in bot.log()
        assert "retry handler" not in bot.log(), "one line per attempt, not slack_sdk's too"
    finally:
        assert await bot.stop() == 0
        await slack.stop()
        await emulator.stop()


# ---- point 2: shutdown in every state ---------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
async def test_signal_stops_a_bot_that_never_reached_slack(
    emulator: ChimeEmulator,
    session: ClientSession,
    tmp_path: Path,
    sig: signal.Signals,
    socket_mode: bool,
) -> None:
    await emulator.start()
    try:
        extra = {"SLACK_APP_TOKEN": APP_TOKEN} if socket_mode else {}
        bot = await BotProcess(
            emulator.url,
            SlackStandIn(),
            tmp_path / "state.db",
            session,
            SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
            **extra,
        ).launch()
        await bot.wait_log(RETRY_LINE)
        assert await bot.stop(sig) == 0
        assert "stopped before becoming ready" in bot.log()
        assert "Traceback" not in bot.log()
    finally:
        await emulator.stop()


async def test_sigterm_stops_socket_mode_that_never_connected(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    slack.refuse_sockets = True  # the Web API answers, the WebSocket handshake is refused
    bot = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, SLACK_APP_TOKEN=APP_TOKEN
    ).launch()
    await slack.wait_for(lambda: bool(slack.calls_to("apps.connections.open")), timeout=30)
    await bot.wait_log("Failed to connect")
    status, body = await _status(session, f"{bot.url}/readyz")
    assert status == 503 and body["slack"] == "verified"
    assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


async def test_sigterm_stops_socket_mode_while_reconnecting(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, SLACK_APP_TOKEN=APP_TOKEN
    ).start()
    await slack.wait_connected()
    slack.refuse_sockets = True
    await slack.drop_sockets()  # Slack goes away; the bot keeps trying to come back
    await bot.wait_log("Failed to connect")
    assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


async def test_livez_answers_while_readyz_says_why_not(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).start()
    status, body = await _status(session, f"{bot.url}/readyz")
    assert status == 200 and body["slack"] == "verified" and body["store"] == "ok"
    assert (await _status(session, f"{bot.url}/livez"))[0] == 200
    assert await bot.stop() == 0


# ---- point 6: health that means something ---------------------------------------------------


async def _wait_ready(session: ClientSession, url: str, want: int) -> dict[str, object]:
    for _ in range(400):
        status, body = await _status(session, f"{url}/readyz")
        if status == want:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {want}")


async def test_readiness_goes_false_while_the_store_is_unusable_and_comes_back(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    bot = await BotProcess(emulator.url, slack, store_path, session).start()
    await _wait_ready(session, bot.url, 200)
    # Another process holds the write lock: every write the bot tries would fail.
    blocker = sqlite3.connect(store_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        body = await _wait_ready(session, bot.url, 503)
        assert str(body["store"]).startswith("unusable") and body["slack"] == "verified"
        assert (await _status(session, f"{bot.url}/healthz"))[0] == 503, "the older name agrees"
        assert (await _status(session, f"{bot.url}/livez"))[0] == 200, "alive: do not restart"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (await _wait_ready(session, bot.url, 200))["store"] == "ok"
    assert await bot.stop() == 0


async def test_readiness_goes_false_when_the_dynamodb_table_is_gone(
    peers: tuple[ChimeEmulator, SlackStandIn],
    session: ClientSession,
    tmp_path: Path,
    moto_dynamo: MotoDynamo,
    dynamo_table: str,
) -> None:
    emulator, slack = peers
    env = {"CHIME_STORE_URL": f"dynamodb://{dynamo_table}", **moto_dynamo.env()}
    bot = await BotProcess(emulator.url, slack, tmp_path / "unused.db", session, **env).start()
    assert (await _wait_ready(session, bot.url, 200))["store"] == "ok"
    moto_dynamo.admin.delete_table(TableName=dynamo_table)
    body = await _wait_ready(session, bot.url, 503)
    assert str(body["store"]).startswith("unusable") and dynamo_table in str(body["store"])
    assert (await _status(session, f"{bot.url}/livez"))[0] == 200
    assert await bot.stop() == 0


async def test_metrics_port_serves_metrics_apart_from_slack_events(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    metrics_port = free_port()
    bot = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, METRICS_PORT=str(metrics_port)
    ).start()
    helped = await bot.sender.command("help", user_id=REQUESTER, channel_id=CHANNEL)
    assert helped.status == 200
    async with session.get(f"{bot.url}/metrics") as resp:
        assert resp.status == 404, "not on the public port"
    async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
        assert resp.status == 200
        assert 'chime_bot_commands_total{outcome="help",subcommand="help"}' in await resp.text()
    async with session.post(f"http://127.0.0.1:{metrics_port}/slack/events", data=b"x") as resp:
        assert resp.status == 404, "and Slack's events are not on the metrics port"
    assert f"metrics at http://127.0.0.1:{metrics_port}/metrics" in bot.log()
    assert await bot.stop() == 0
