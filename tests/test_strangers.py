"""Strangers and malformed requests at `/slack/events`: a short answer, almost no trace.

Each finding of the security review is replayed against a real `chime-bot serve` process over
HTTP (or raw TCP, for what an HTTP client library will not send), and the test reads both the
status codes and the log file the process wrote.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import logs
from bot.emulator import ChimeEmulator
from bot.offline import BotProcess, OfflineBot, offline_bot
from bot.slack_standin import TEAM_ID, SlackStandIn
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER
from tests.test_property_http import BotThread

FORM = "application/x-www-form-urlencoded"
# What a stranger would like the log to show: a line of its own that passes for an audit event.
FORGED = "1999-12-31 23:59:59,000 INFO chime_bot.audit: approve_claimed by U0APPROVER"
MARKER = "STRANGER-DATA"
# A line of the text format: "<date> <time>,<ms> <LEVEL> <logger>: <message>".
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+) (\S+): ")


def signed(
    secret: str, body: bytes, *, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes, as its reference describes it."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


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


def click(**fields: object) -> dict[str, object]:
    """A block_actions payload as Slack shapes it, with `fields` replaced."""
    return {
        "type": "block_actions",
        "user": {"id": "U0APPROVER"},
        "channel": {"id": "C0APPROVALS"},
        "team": {"id": TEAM_ID},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [{"action_id": "approve", "block_id": "decision", "value": "REQ-1"}],
        **fields,
    }


def click_payload(*, keep_nulls: bool = False, **fields: object) -> bytes:
    """The form Slack posts for a click; fields given as None are removed, unless `keep_nulls`."""
    kept = {k: v for k, v in click(**fields).items() if v is not None or keep_nulls}
    return urlencode({"payload": json.dumps(kept)}).encode()


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


# ---- what Slack sends still passes ------------------------------------------------------------


async def test_unusual_but_real_slack_requests_pass_the_door(bot: OfflineBot) -> None:
    """The other side of the checks above: nothing Slack itself would send is refused. Bolt
    alone answered 404 to any form containing "payload" (here, in the text and a user name)."""
    for text, user in (
        ("user payload@example.com", REQUESTER),
        ("user ada@example.com", "Upayload"),
        ("user adä@exämple.com ✓", REQUESTER),
    ):
        exchange = await bot.sender.command(text, user_id=user, channel_id=CHANNEL)
        assert exchange.status == 200, text
        assert "Something went wrong" not in all_text(await exchange.reply())
    secret = bot.runtime.settings.slack_signing_secret
    assert secret is not None
    form = urlencode(slash_form("help")).encode()
    headers = signed(secret.get_secret_value(), form, content_type=f"{FORM}; charset=UTF-8")
    async with bot.sender.session.post(bot.sender.bot_url, data=form, headers=headers) as resp:
        assert resp.status == 200 and "/chime invite" in await resp.text()


async def test_slacks_unsigned_ssl_check_gets_200_and_smuggles_nothing(bot: OfflineBot) -> None:
    """Slack's certificate check comes unsigned (bolt-js#1397 shows one on the wire). It gets an
    empty 200, and a command riding along with it (bolt-python#1494) is never run."""
    session, url = bot.sender.session, bot.sender.bot_url
    rid, response_url = bot.slack.new_response_url()
    # `help` answers in the ack itself, so had it run, the 200 would carry the usage card.
    smuggled = urlencode({"ssl_check": "1", **slash_form("help", response_url=response_url)})
    for body, expected in (
        ("ssl_check=1&token=deprecated-verification-token", 200),
        (smuggled, 200),
        ("ssl_check=true&token=x", 401),
        (urlencode({"ssl_check": "0", **slash_form(response_url=response_url)}), 401),
    ):
        async with session.post(url, data=body, headers={"Content-Type": FORM}) as resp:
            assert resp.status == expected, body
            assert expected != 200 or await resp.read() == b"", "nothing ran"
    assert bot.slack.responses[rid] == []
    assert b'subcommand="help"' not in bot.runtime.deps.metrics.render()


# ---- property: no signed payload shape can make a 5xx or an error log -------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
# Fields Slack's payloads carry and Bolt reads, plus a few it reads for other kinds of request.
payload_keys = st.sampled_from(
    [
        "type", "user", "channel", "team", "enterprise", "container", "message", "view",
        "event", "actions", "response_url", "trigger_id", "api_app_id", "token", "state",
        "authorizations", "is_enterprise_install", "function_data", "bot_access_token",
    ]
)  # fmt: skip
action_keys = st.sampled_from(["action_id", "block_id", "value", "type", "text", "action_ts"])
form_keys = st.sampled_from(
    ["command", "text", "user_id", "channel_id", "team_id", "enterprise_id", "response_url",
     "event", "view", "payload", "ssl_check", "is_enterprise_install", "user", "channel"]
)  # fmt: skip


@pytest.fixture(scope="module")
def bot_thread() -> Iterator[BotThread]:
    with BotThread() as running:
        yield running


async def signed_post(bot: OfflineBot, body: bytes) -> int:
    secret = bot.runtime.settings.slack_signing_secret
    assert secret is not None
    headers = signed(secret.get_secret_value(), body)
    async with bot.sender.session.post(bot.sender.bot_url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    top=st.dictionaries(payload_keys, json_values, max_size=3),
    action=st.dictionaries(action_keys, json_values, max_size=2),
    form=st.dictionaries(form_keys, st.text(max_size=12), max_size=3),
)
def test_no_signed_payload_shape_gets_a_5xx_or_an_error_log(
    bot_thread: BotThread,
    top: dict[str, object],
    action: dict[str, object],
    form: dict[str, str],
) -> None:
    bot = bot_thread.bot
    assert bot is not None
    base = {"action_id": "approve", "block_id": "decision", "value": "REQ-1"}
    bodies = [
        urlencode(
            {"payload": json.dumps(click(**{"actions": [{**base, **action}], **top}))}
        ).encode(),
        urlencode({**slash_form("help"), **form}).encode(),
    ]
    for body in bodies:
        status = bot_thread.run(signed_post(bot, body))
        assert status < 500, body
    assert not bot_thread.logged_errors, [r.getMessage() for r in bot_thread.logged_errors]
    assert not bot_thread.errors


def test_text_log_keeps_one_record_per_line_tracebacks_included() -> None:
    stream = io.StringIO()
    logs.configure("INFO", "text", stream=stream)
    try:
        try:
            raise ValueError(f"bad value\n{FORGED}\u2028{FORGED}")
        except ValueError:
            logging.getLogger("chime_bot").exception(
                "failed on %s", f"x\r{FORGED}", extra={"user": f"U1\n{FORGED}"}
            )
    finally:
        logs.configure("WARNING", "text")
    text = stream.getvalue()
    lines = text.split("\n")[:-1]  # only \n ends a line in the file
    assert lines[0].startswith(tuple("0123456789")) and "x\\r1999" in lines[0]
    assert "user=U1\\n1999" in lines[0]
    assert len(lines) > 2 and all(line.startswith("    ") for line in lines[1:])
    assert "\u2028" not in text and "\r" not in text
    assert_one_line_per_record(text.splitlines())


async def test_without_a_signing_secret_nothing_is_admitted(emulator: ChimeEmulator) -> None:
    """`serve` refuses to start without one; should a bot run with an empty secret anyway, a
    request signed with the empty key is still a stranger's."""
    async with offline_bot({"slack_signing_secret": ""}, emulator=emulator) as bot:
        body = urlencode(slash_form("help")).encode()
        async with bot.sender.session.post(
            bot.sender.bot_url, data=body, headers=signed("", body)
        ) as resp:
            assert resp.status == 401


def test_text_log_scrubs_tokens_in_tracebacks_too() -> None:
    stream = io.StringIO()
    logs.configure("INFO", "text", stream=stream)
    try:
        try:
            raise RuntimeError("slack said no to xoxb-123-456-abcdef")
        except RuntimeError:
            logging.getLogger("chime_bot").exception("call failed", stack_info=True)
    finally:
        logs.configure("WARNING", "text")
    text = stream.getvalue()
    assert "xoxb-123" not in text and "xoxb-[redacted]" in text
    assert "Stack (most recent call last)" in text
    assert_one_line_per_record(text.splitlines())
