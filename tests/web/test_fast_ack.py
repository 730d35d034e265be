"""`/chime` over HTTP is acked without Bolt (bot/web/fast_ack.py): the same answer, byte for byte,
as Bolt gives for the same request, and nothing else takes that path."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.offline.wiring import OfflineBot
from bot.web import fast_ack
from handlers.slash import COMMAND
from tests.hostile import FORM, signed, slash_form

ROOT = Path(__file__).resolve().parents[2]


async def _over_http(bot: OfflineBot, form: dict[str, str]) -> tuple[int, str, bytes]:
    secret = bot.runtime.settings.slack_signing_secret
    assert secret is not None
    body = urlencode(form).encode()
    headers = signed(secret.get_secret_value(), body)
    async with bot.sender.session.post(bot.sender.bot_url, data=body, headers=headers) as resp:
        return resp.status, resp.content_type, await resp.read()


async def _through_bolt(bot: OfflineBot, form: dict[str, str]) -> tuple[int, str, bytes]:
    """What Bolt's own dispatch answers to the same form (its signature check is off: the door
    verifies), through Bolt's own aiohttp adapter. `payload` is escaped as http_guard's
    `bolt_request` escapes it, or Bolt would read the form as a click."""
    text = urlencode(form).replace("payload", "%70ayload")
    request = AsyncBoltRequest(body=text, headers={"content-type": FORM})
    answer = await bot.runtime.bolt.async_dispatch(request)
    body = answer.body.encode()  # before the adapter, which consumes the headers
    response = await to_aiohttp_response(answer)
    return response.status, response.content_type, body


async def test_the_ack_is_the_one_bolt_would_send(bot: OfflineBot) -> None:
    """Answers in the ack (help, a usage error, a refusal, hostile text) and the empty ack of a
    lookup: status, content type and body all equal Bolt's."""
    forms: list[dict[str, Any]] = [
        slash_form("help"),
        slash_form("user"),
        slash_form("frobnicate <@U0ADMIN> *bold* <!channel>"),
        slash_form("help", channel_id="C0NOTALLOWED"),
        slash_form("user payload@example.com"),
        slash_form(""),
    ]
    for form in forms:
        assert await _over_http(bot, form) == await _through_bolt(bot, form), form
    lookup = slash_form("user ada@example.com", response_url=bot.slack.new_response_url()[1])
    assert await _over_http(bot, lookup) == (200, "text/plain", b"")


async def test_other_commands_still_go_to_bolt(bot: OfflineBot) -> None:
    """Only exactly `/chime` is taken: any other command gets Bolt's answer (no listener: 404),
    and none of them runs a `/chime` subcommand."""
    for command in ("/chime2", "/CHIME", "/chime ", " /chime", ""):
        form = slash_form("help", command=command)
        status, _, body = await _over_http(bot, form)
        assert status == 404, command
        assert b"/chime invite" not in body
    assert b'subcommand="help"' not in bot.runtime.deps.metrics.render()


def test_the_command_taken_is_the_one_the_manifest_declares() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    declared = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert declared == [COMMAND]


async def test_the_response_is_the_one_bolts_adapter_builds() -> None:
    """Status, every header and the body, for each kind of ack the handlers give."""
    for kwargs in (
        {},
        {"text": "plain words"},
        {"text": "t", "blocks": [{"type": "divider"}], "response_type": "ephemeral"},
    ):
        ours, bolts = AsyncAck(), AsyncAck()  # type: ignore[no-untyped-call]
        await ours(**kwargs)
        await bolts(**kwargs)
        assert ours.response is not None and bolts.response is not None
        mine = fast_ack._response(ours.response)
        theirs = await to_aiohttp_response(bolts.response)
        assert (mine.status, mine.text) == (theirs.status, theirs.text), kwargs
        assert dict(mine.headers) == dict(theirs.headers), kwargs
