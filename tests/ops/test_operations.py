"""Running it for real: Socket Mode, `check`, JSON logs, metrics and graceful shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
from pathlib import Path

import pytest
from aiohttp import ClientSession
from moto import mock_aws

from bot import logs
from bot.app import Runtime
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import SlackSender, SlackStandIn
from bot.offline.wiring import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    OFFLINE_CREDENTIALS,
    BotProcess,
    offline_bot,
    offline_settings,
)
from bot.ops import check
from bot.store import SqliteStore, Status
from tests.blockkit import all_text
from tests.cli import offline_env
from tests.conftest import CHANNEL, REQUESTER

# ---- Socket Mode ------------------------------------------------------------------------------


async def test_socket_mode_acks_over_the_socket_and_replies_via_response_url(
    peers: tuple[ChimeEmulator, SlackStandIn],
    session: ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, slack = peers
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME", emulator.url)
    settings = offline_settings(slack.api_url, slack.bot_token, "", slack_app_token="xapp-1-test")
    runtime = await Runtime.create(settings, aws_credentials=OFFLINE_CREDENTIALS)
    try:
        url = await runtime.start("127.0.0.1", 0, app_token="xapp-1-test")
        await slack.wait_connected()
        sender = SlackSender("unused", "unused", slack, session)

        exchange = await sender.socket_command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert exchange.ack is None, "lookups ack with an empty envelope"
        assert "Ada Lovelace" in all_text(await exchange.reply())

        helped = await sender.socket_command("help", user_id=REQUESTER, channel_id=CHANNEL)
        assert helped.ack is not None and "/chime invite" in all_text(helped.ack)

        async with session.get(f"{url}/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["mode"] == "socket"
        async with session.get(f"{url}/metrics") as resp:
            assert resp.status == 200
        async with session.post(f"{url}/slack/events", data=b"x") as resp:
            assert resp.status in (404, 405), "no HTTP event endpoint in Socket Mode"
    finally:
        await runtime.close(grace=2)


# ---- check ------------------------------------------------------------------------------------


def _configure(
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackStandIn,
    emulator: ChimeEmulator,
    tmp_path: Path,
    **extra: str,
) -> None:
    values = offline_env(slack, emulator, tmp_path, **extra)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


async def test_check_passes_when_everything_is_right(
    peers: tuple[ChimeEmulator, SlackStandIn], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator, slack = peers
    _configure(monkeypatch, slack, emulator, tmp_path)
    with mock_aws():  # STS only: moto passes the Chime calls through to the emulator
        results = await check.run_checks()
    table = check.render(results)
    assert all(r.ok for r in results), table
    names = [r.name for r in results]
    for expected in (
        "Settings",
        "Slack bot token",
        "Signing secret",
        "AWS credentials",
        "Amazon Chime",
        "Default account",
        "Allowed channels",
        "Approvers",
        "Approval channel",
        "Request store",
    ):
        assert expected in names
    assert "arn:aws:sts::123456789012" in table and "Example Corp" in table
    assert f"{len(results)} of {len(results)} checks passed" in table


async def test_check_names_each_failure_with_a_fix(
    peers: tuple[ChimeEmulator, SlackStandIn], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator, slack = peers
    _configure(
        monkeypatch,
        slack,
        emulator,
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-wrong",
        CHIME_APPROVERS="",
        CHIME_DEFAULT_ACCOUNT="Nowhere Inc",
    )
    emulator.inject("ListAccounts", Fault("ForbiddenException", times=-1))
    with mock_aws():
        results = await check.run_checks()
    failed = {r.name: r for r in results if not r.ok}
    # With no approvers no invite could be approved; posting cannot be checked with a token
    # Slack refuses, nor lookups once ListAccounts is refused.
    expected = {
        "Approvers",
        "Slack bot token",
        "Amazon Chime",
        "Default account",
        "Chime user lookups",
        "Post in C0APPROVALS",
    }
    assert set(failed) == expected
    assert "invalid_auth" in failed["Slack bot token"].detail
    assert "chime:ListAccounts" in (failed["Amazon Chime"].fix or "")
    assert all(r.fix for r in failed.values())
    assert "xoxb-wrong" not in check.render(results)


# ---- logs -------------------------------------------------------------------------------------


def test_json_log_lines_carry_request_fields_and_scrub_tokens() -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    try:
        logging.getLogger("chime_bot").info(
            "/chime user -> ok",
            extra={
                "command_id": "r1",
                "command": "user",
                "user": "U1",
                "channel": "C1",
                "latency_ms": 12.5,
                "outcome": "ok",
            },
        )
        logging.getLogger("chime_bot").warning("slack said xoxb-123-456-abcdef is bad")
        assert logging.getLogger("botocore").getEffectiveLevel() >= logging.INFO
    finally:
        logs.configure("WARNING", "text")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["command_id"] == "r1" and first["latency_ms"] == 12.5
    assert first["outcome"] == "ok" and first["command"] == "user" and first["level"] == "info"
    assert "xoxb-123" not in second["msg"] and "[redacted]" in second["msg"]


def test_audit_events_become_structured_json_lines() -> None:
    from bot.store import AuditEvent
    from bot.store.rules import log_event

    stream = io.StringIO()
    logs.configure("INFO", "json", stream=stream)
    try:
        log_event(AuditEvent("REQ-1", 1.5, "U0APPROVER", "approve_claimed", {"to": "approving"}))
    finally:
        logs.configure("WARNING", "text")
    line = json.loads(stream.getvalue())
    assert line["logger"] == "chime_bot.audit" and line["request_id"] == "REQ-1"
    assert line["actor"] == "U0APPROVER" and line["action"] == "approve_claimed"
    assert line["detail"] == {"to": "approving"}


async def test_served_bot_logs_json_without_secrets_or_pins(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, LOG_FORMAT="json", LOG_LEVEL="DEBUG"
    ).start()
    try:
        exchange = await bot.sender.command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        await exchange.reply()
    finally:
        assert await bot.stop() == 0
    lines = [json.loads(line) for line in bot.log().splitlines() if line.startswith("{")]
    assert lines, bot.log()
    done = [x for x in lines if x.get("command") == "user" and x.get("outcome") == "ok"]
    assert done and {"command_id", "user", "channel", "latency_ms"} <= set(done[0])
    # A command's own ID and an invite request's ID are different keys.
    assert "request_id" not in done[0]
    text = bot.log()
    pin = emulator.find_users("ada@example.com")[0]["PersonalPIN"]
    assert pin not in text
    assert slack.bot_token not in text and bot.signing_secret not in text


# ---- metrics ----------------------------------------------------------------------------------


async def test_metrics_count_commands_latency_chime_calls_approvals_and_pending(
    emulator: ChimeEmulator, session: ClientSession
) -> None:
    async with offline_bot(emulator=emulator) as bot:
        await (
            await bot.sender.command("user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL)
        ).reply()
        await (
            await bot.sender.command(
                'invite m@example.com --account "Example Corp"',
                user_id=REQUESTER,
                channel_id=CHANNEL,
            )
        ).reply()
        async with session.get(f"{bot.runtime.url}/metrics") as resp:
            body = await resp.text()
        assert 'chime_bot_commands_total{outcome="ok",subcommand="user"} 1.0' in body
        assert 'chime_bot_commands_total{outcome="filed",subcommand="invite"} 1.0' in body
        assert "chime_bot_ack_seconds_count 2.0" in body
        assert 'chime_bot_end_to_end_seconds_count{subcommand="user"} 1.0' in body
        assert 'chime_bot_chime_calls_total{code="ok",operation="GetUser"} 1.0' in body
        assert "chime_bot_pending_requests 1.0" in body

        card = next(m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL)
        await bot.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        await bot.slack.wait_for(lambda: "Created user" in str(card.current))
        async with session.get(f"{bot.runtime.url}/metrics") as resp:
            body = await resp.text()
        assert 'chime_bot_approvals_total{outcome="approved"} 1.0' in body
        assert "chime_bot_pending_requests 0.0" in body


# ---- graceful shutdown ------------------------------------------------------------------------


async def _approve_and_wait_for_claim(
    bot: BotProcess, slack: SlackStandIn, store_path: Path
) -> str:
    exchange = await bot.sender.command(
        f'invite s{secrets.token_hex(3)}@example.com --account "Example Corp"',
        user_id=REQUESTER,
        channel_id=CHANNEL,
    )
    await exchange.reply()
    card = next(m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL)
    request_id: str = card.message["blocks"][-1]["elements"][0]["value"]
    await bot.sender.click(card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel)
    for _ in range(1000):
        if (await _status(store_path, request_id)) == Status.APPROVING:
            return request_id
        await asyncio.sleep(0.01)
    raise AssertionError("approval was never claimed")


async def _status(path: Path, request_id: str) -> Status | None:
    async with await SqliteStore.open(path) as store:
        request = await store.get(request_id)
    return request.status if request else None


async def test_sigterm_during_an_approval_lets_it_finish(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    bot = await BotProcess(emulator.url, slack, store_path, session).start()
    emulator.set_latency(1.0, "CreateUser")
    request_id = await _approve_and_wait_for_claim(bot, slack, store_path)
    assert await bot.stop() == 0  # SIGTERM while CreateUser is in flight
    assert await _status(store_path, request_id) == Status.APPROVED
    assert emulator.count("CreateUser") == 1


async def test_sigterm_past_the_grace_period_leaves_the_request_retryable(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    store_path = tmp_path / "state.db"
    # The blocked boto3 thread holds up process exit until its read timeout: keep that short.
    bot = await BotProcess(
        emulator.url, slack, store_path, session, SHUTDOWN_GRACE="0.2", CHIME_READ_TIMEOUT="1"
    ).start()
    emulator.set_latency(30.0, "CreateUser")
    request_id = await _approve_and_wait_for_claim(bot, slack, store_path)
    assert await bot.stop() == 0
    assert await _status(store_path, request_id) == Status.FAILED, "never stuck in approving"
    card = next(m for m in slack.messages if m.channel == DEMO_APPROVAL_CHANNEL)
    assert "Retry" in str(card.current) and "shut down" in all_text(card.current)
