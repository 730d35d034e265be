"""Strangers and malformed requests at `/slack/events`: a short answer, almost no trace.

Each finding of the security review is replayed against a real `chime-bot serve` process over
HTTP (or raw TCP, for what an HTTP client library will not send), and the test reads both the
status codes and the log file the process wrote.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import BotProcess
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER
from tests.hostile import (
    FORGED,
    FORM,
    LINE,
    MARKER,
    assert_one_line_per_record,
    click_payload,
    signed,
    slash_form,
)


async def post(
    session: ClientSession, bot: BotProcess, body: bytes, headers: dict[str, str]
) -> int:
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


# ---- signed, but malformed ----------------------------------------------------------------------


async def test_signed_malformed_requests_get_4xx_never_500_or_a_traceback(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    bot = await serve(peers, session, tmp_path)
    secret = bot.signing_secret
    form = urlencode(slash_form()).encode()
    nested = b"payload=" + b"[" * 100_000
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("body not UTF-8", form + b"&x=\xff\xfe", {}),
        ("charset that does not exist", form, {"Content-Type": f"{FORM}; charset=nonexistent"}),
        ("charset Slack does not send", form, {"Content-Type": f"{FORM}; charset=latin-1"}),
        ("content type Slack does not send", form, {"Content-Type": "text/plain"}),
        ("payload that is not JSON", b"payload=%7Bnot+json", {}),
        ("payload that is a JSON list", b"payload=%5B1%2C2%5D", {}),
        ("payload nested past the parser's depth", nested, {}),
        ("JSON body that is not an object", b"[]", {"Content-Type": "application/json"}),
        ("JSON body cut short", b'{"type": ', {"Content-Type": "application/json"}),
        ("user as a string", click_payload(user="U0APPROVER"), {}),
        ("user as a number", click_payload(user=5), {}),
        ("user id as a number", click_payload(user={"id": 5}), {}),
        ("channel as a string", click_payload(channel="C0APPROVALS"), {}),
        ("actions as a string", click_payload(actions="approve"), {}),
        ("actions empty", click_payload(actions=[]), {}),
        ("actions missing", click_payload(actions=None), {}),
        ("action as a number", click_payload(actions=[5]), {}),
        ("action_id as a number", click_payload(actions=[{"action_id": 5}]), {}),
        (
            "action value as an object",
            click_payload(actions=[{"action_id": "approve", "value": {}}]),
            {},
        ),
        ("response_url as a list", click_payload(response_url=["x"]), {}),
        ("a click inside a view that is null", click_payload(view=None, keep_nulls=True), {}),
        ("an event that is a string", click_payload(event="message"), {}),
        (
            "an Events API body",
            b'{"type": "event_callback", "event": {}}',
            {"Content-Type": "application/json"},
        ),
        ("a form that starts like JSON", b'{"type": "block_actions"}', {}),
        ("a view_submission", click_payload(type="view_submission", actions=None), {}),
        ("a form that is not a command", b"text=hello&user_id=U1", {}),
        ("a command form with an event", urlencode(slash_form(event="x")).encode(), {}),
    ]
    statuses: dict[str, int] = {}
    try:
        for name, data, extra in cases:
            statuses[name] = await post(session, bot, data, signed(secret, data) | extra)
        big = b"text=" + b"a" * (1024 * 1024)
        statuses["1 MiB + 5 bytes, signed"] = await post(session, bot, big, signed(secret, big))

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"a" * 65536

        # Chunked: no Content-Length to refuse it by, so the cap applies while reading.
        async with session.post(
            f"{bot.url}/slack/events", data=chunks(), headers=signed(secret, b"unknowable")
        ) as resp:
            statuses["1.25 MiB chunked"] = resp.status
        exchange = await bot.sender.command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert exchange.status == 200 and "Ada Lovelace" in all_text(await exchange.reply())
    finally:
        assert await bot.stop() == 0
    wrong = {name: s for name, s in statuses.items() if s not in (400, 401, 413)}
    assert not wrong, wrong
    assert all(statuses[name] == 400 for name, _, _ in cases), statuses
    assert statuses["1 MiB + 5 bytes, signed"] == statuses["1.25 MiB chunked"] == 413
    log = bot.log()
    assert "Traceback" not in log and " ERROR " not in log
    refused = [line for line in log.splitlines() if "refused 4" in line]
    assert len(refused) == len(statuses)
    assert all(len(line) < 200 for line in refused), max(refused, key=len)
    assert_one_line_per_record(log.splitlines())


async def test_request_data_cannot_start_a_line_of_the_text_log(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    """Signed requests whose fields carry new lines, terminal escapes and line separators reach
    the log (refused by channel policy, with the channel and user as fields) only escaped."""
    bot = await serve(peers, session, tmp_path)
    hostile = [f"C0X\n{FORGED}", f"C0X\r{FORGED}", f"C0X\u2028{FORGED}", f"C0X\x85{FORGED}"]
    try:
        for channel in hostile:
            exchange = await bot.sender.command(
                "user ada@example.com", user_id=f"U0X\x1b[2J\n{FORGED}", channel_id=channel
            )
            assert exchange.status == 200 and exchange.ack is not None
    finally:
        assert await bot.stop() == 0
    lines = bot.log().splitlines()
    policy = [line for line in lines if "refused by channel policy" in line]
    assert len(policy) == len(hostile)
    for escaped in ("C0X\\n1999", "C0X\\r1999", "C0X\\u20281999", "C0X\\x851999"):
        assert any(escaped in line for line in policy), escaped
    assert all("\x1b" not in line and "U0X\\x1b[2J\\n" in line for line in policy)
    assert_one_line_per_record(lines)
    # str.splitlines() also breaks at \x85 and \u2028: none may be left in the file.
    assert len(bot.log().split("\n")) == len(lines) + 1


# ---- broken connections -------------------------------------------------------------------------


async def test_dropped_connections_and_broken_http_leave_at_most_debug_lines(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    bot = await serve(peers, session, tmp_path, LOG_LEVEL="DEBUG")
    started = len(bot.log())  # start-up has its own lines (a Bolt warning among them)
    now = int(time.time())
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: {FORM}\r\n"
        f"X-Slack-Request-Timestamp: {now}\r\nX-Slack-Signature: v0={'0' * 64}\r\n"
    )
    drops = 50
    try:
        for _ in range(drops):
            _, writer = await asyncio.open_connection("127.0.0.1", bot.port)
            writer.write(f"{head}Content-Length: 4096\r\n\r\n{MARKER}".encode())
            await writer.drain()
            writer.close()
        broken = {
            "header without a colon": f"{head}{MARKER}\r\n\r\n",
            "Content-Length not a number": f"{head}Content-Length: {MARKER}\r\n\r\n",
            "chunk size not hex": f"{head}Transfer-Encoding: chunked\r\n\r\n{MARKER}\r\nx\r\n",
            "header line of 64 KiB": f"{head}X-Long: {MARKER * 5000}\r\n\r\n",
        }
        for name, data in broken.items():
            assert b" 400 " in await raw(bot, data.encode()), name
        exchange = await bot.sender.command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert exchange.status == 200 and "Ada Lovelace" in all_text(await exchange.reply())
    finally:
        assert await bot.stop() == 0
    lines = bot.log()[started:].splitlines()
    assert "Traceback" not in bot.log() and MARKER not in bot.log()
    levels = {m.group(1) for line in lines if (m := LINE.match(line))}
    assert levels <= {"DEBUG", "INFO"}, levels
    gone = [line for line in lines if "client went away" in line]
    assert 0 < len(gone) <= drops and all(LINE.match(line).group(1) == "DEBUG" for line in gone)  # type: ignore[union-attr]
    malformed = [line for line in lines if "malformed HTTP" in line]
    assert len(malformed) == len(broken) and all(" DEBUG " in line for line in malformed)
    assert_one_line_per_record(lines)
