"""The door of `/slack/events` lets through all that Slack sends and nothing else: unusual but
real requests pass, Slack's unsigned SSL check is answered and nothing rides along with it, no
signed payload shape reaches a 5xx, and the text log keeps one record per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import logs
from bot.cards.approval import ActionId, BlockId
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import OfflineBot, offline_bot
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER
from tests.hostile import FORGED, FORM, assert_one_line_per_record, click, signed, slash_form
from tests.web.test_property_http import BotThread

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


# ---- fail closed ------------------------------------------------------------------------------


async def test_without_a_signing_secret_nothing_is_admitted(emulator: ChimeEmulator) -> None:
    """`serve` refuses to start without one; should a bot run with an empty secret anyway, a
    request signed with the empty key is still a stranger's."""
    async with offline_bot({"slack_signing_secret": ""}, emulator=emulator) as bot:
        body = urlencode(slash_form("help")).encode()
        async with bot.sender.session.post(
            bot.sender.bot_url, data=body, headers=signed("", body)
        ) as resp:
            assert resp.status == 401


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
    base = {"action_id": ActionId.APPROVE, "block_id": BlockId.DECISION, "value": "REQ-1"}
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


# ---- the text log -----------------------------------------------------------------------------


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


async def test_only_slacks_literal_ssl_check_is_answered_unsigned(bot: OfflineBot) -> None:
    """Slack writes `ssl_check=1` as it is; the door looks for those bytes before parsing a form
    a second time. An encoded name is not Slack's check: unsigned, it is refused like any other
    request, and nothing runs."""
    session, url = bot.sender.session, bot.sender.bot_url
    for body in ("ssl%5Fcheck=1&token=x", "%73sl_check=1&token=x", "ssl_check=%31&token=x"):
        async with session.post(url, data=body, headers={"Content-Type": FORM}) as resp:
            assert resp.status == 401, body
    async with session.post(url, data="token=x&ssl_check=1", headers={"Content-Type": FORM}) as r:
        assert r.status == 200 and await r.read() == b""
