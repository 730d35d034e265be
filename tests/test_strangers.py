"""Strangers and malformed requests at `/slack/events`: a short answer, almost no trace.

Each finding of the security review is replayed against a real `chime-bot serve` process over
HTTP (or raw TCP, for what an HTTP client library will not send), and the test reads both the
status codes and the log file the process wrote.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession

from bot.emulator import ChimeEmulator
from bot.offline import BotProcess
from bot.slack_standin import TEAM_ID, SlackStandIn
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER

FORM = "application/x-www-form-urlencoded"
# What a stranger would like the log to show: a line of its own that passes for an audit event.
FORGED = "2026-01-01 00:00:00,000 INFO chime_bot.audit: approve_claimed by U0APPROVER"
MARKER = "STRANGER-DATA"
# A line of the text format: "<date> <time>,<ms> <LEVEL> <logger>: <message>".
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+) (\S+): ")


def signed(secret: str, body: bytes, *, timestamp: int | None = None, **headers: str) -> dict:
    """Slack's v0 signature over the raw bytes, as its reference describes it."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        **headers,
    }


async def post(session: ClientSession, bot: BotProcess, body: bytes, headers: dict) -> int:
    async with session.post(f"{bot.url}/slack/events", data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def raw(bot: BotProcess, data: bytes) -> bytes:
    """Write `data` on a fresh connection and return the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
    writer.write(data)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return status


def slash_form(text: str = "user ada@example.com", **fields: str) -> dict[str, str]:
    return {
        "team_id": TEAM_ID,
        "channel_id": CHANNEL,
        "user_id": REQUESTER,
        "command": "/chime",
        "text": text,
        "response_url": "http://127.0.0.1:9/unused",
        **fields,
    }


def click_payload(**fields: object) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0APPROVER"},
        "channel": {"id": "C0APPROVALS"},
        "team": {"id": TEAM_ID},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [{"action_id": "approve", "block_id": "decision", "value": "REQ-1"}],
        **fields,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def log_lines(bot: BotProcess) -> list[str]:
    return bot.log().splitlines()


def assert_one_line_per_record(lines: list[str]) -> None:
    """Every line of the text log starts a record of its own, or is an indented traceback line:
    nothing from a request can stand at the start of a line."""
    for line in lines:
        assert LINE.match(line) or line.startswith("    "), f"stray line: {line[:120]!r}"
        assert not line.startswith(FORGED[:10]), f"forged line: {line[:120]!r}"


async def serve(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path, **env: str
) -> BotProcess:
    emulator, slack = peers
    return await BotProcess(
        emulator.url, slack, tmp_path / "state.db", session, LOG_FORMAT="text", **env
    ).start()


# ---- strangers ----------------------------------------------------------------------------------


async def test_strangers_get_401_and_leave_one_short_line_each(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    bot = await serve(peers, session, tmp_path)
    now = int(time.time())
    body = f"{MARKER}\n{FORGED}\n".encode()
    # Almost 1 MiB (the size cap), full of lines that would pass for log lines.
    big = (body * (1024 * 1024 // len(body)))[: 1024 * 1024 - 64]
    zeros = "v0=" + "0" * 64
    try:
        cases: list[tuple[str, bytes, dict[str, str]]] = [
            (
                "1 MB with a bad signature",
                big,
                {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": zeros},
            ),
            ("no signature headers", body, {"Content-Type": FORM}),
            (
                "timestamp not a number",
                body,
                {**signed(bot.signing_secret, body), "X-Slack-Request-Timestamp": "12a"},
            ),
            (
                "timestamp int() would take",
                body,
                signed(bot.signing_secret, body, timestamp=now)
                | {"X-Slack-Request-Timestamp": f"{now:_}"},
            ),
            (
                "timestamp with a fraction",
                body,
                {**signed(bot.signing_secret, body), "X-Slack-Request-Timestamp": f"{now}.5"},
            ),
            (
                "timestamp far too large",
                body,
                {**signed(bot.signing_secret, body), "X-Slack-Request-Timestamp": "9" * 40},
            ),
            (
                "replayed after 5 minutes",
                body,
                signed(bot.signing_secret, body, timestamp=now - 301),
            ),
            ("signed with another secret", body, signed("not-the-secret", body)),
            (
                "signature not hex",
                body,
                {**signed(bot.signing_secret, body), "X-Slack-Signature": "v0=" + "é" * 64},
            ),
            (
                "body not UTF-8",
                b"\xff\xfe" + body,
                {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": zeros},
            ),
            (
                "charset that does not exist",
                body,
                {
                    "Content-Type": f"{FORM}; charset=nonexistent",
                    "X-Slack-Request-Timestamp": str(now),
                    "X-Slack-Signature": zeros,
                },
            ),
            (
                "payload that is not JSON",
                b"payload=" + body,
                {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": zeros},
            ),
        ]
        for name, data, headers in cases:
            assert await post(session, bot, data, headers) == 401, name
        # A new line inside a header: an HTTP client will not send it, so write it raw.
        forged_header = (
            f"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: {FORM}\r\n"
            f"X-Slack-Request-Timestamp: {now}\r\nX-Slack-Signature: v0=\r\n {FORGED}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        assert b" 401 " in await raw(bot, forged_header) or b" 400 " in await raw(
            bot, forged_header
        )
        # The bot still serves Slack.
        exchange = await bot.sender.command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert exchange.status == 200 and "Ada Lovelace" in all_text(await exchange.reply())
    finally:
        assert await bot.stop() == 0
    log = bot.log()
    assert MARKER not in log and "approve_claimed" not in log, "no request data in the log"
    assert "Traceback" not in log
    refused = [line for line in log.splitlines() if "refused 401" in line]
    assert len(refused) >= len(cases)
    assert all(len(line) < 200 for line in refused), max(refused, key=len)
    assert len(log) < 20_000, f"{len(log)} bytes of log for {len(cases) + 2} requests"
    assert_one_line_per_record(log.splitlines())
