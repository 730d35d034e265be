"""`/chime` over HTTP, acked without Bolt on the way.

A slash command that `bot/web/http_guard.py` has verified and found in Slack's shape goes straight
to `handlers.slash.on_command`, the same listener Bolt calls, with Bolt's own `AsyncAck`, and is
answered as Bolt's aiohttp adapter would answer it: the ack is byte for byte Bolt's. What is
skipped is Bolt's dispatch: building an `AsyncBoltRequest` (the body parsed a second time, the
headers copied), its middleware chain (SSL check, authorize, URL verification, self events),
matching every listener, and building each listener's arguments by inspecting its signature.
For a command none of that decides anything: http_guard has verified the signature, the HTTP
server answers 503 until Slack has confirmed the token (so Bolt's `authorize` would always
succeed), and `on_command` reads only `ack` and the command's fields.

Why: in a burst every request's ack waits for the acks of the requests in front of it, all on
one event loop, so each request's cost is paid a thousand times over by the last one. Measured
in `make bench` (docs/benchmark.md). Everything else (clicks, events, any other command,
Socket Mode) still goes through Bolt.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse

from bot.deps import Deps
from bot.web.http_guard import Admitted
from handlers.slash import COMMAND, on_command

log = logging.getLogger("chime_bot.http")


def takes(admitted: Admitted) -> bool:
    """Whether the request is a `/chime` command. Bolt reads a form's fields exactly as the
    guard does (`dict(parse_qsl(body, keep_blank_values=True))` in slack_bolt's
    request/internals.py) and matches a command by equality, so this is the request Bolt's
    `app.command("/chime")` listener would get."""
    return admitted.kind == "form" and admitted.fields.get("command") == COMMAND


async def ack_command(deps: Deps, admitted: Admitted) -> web.Response:
    ack = AsyncAck()  # type: ignore[no-untyped-call]  # Bolt leaves __init__ unannotated
    await on_command(deps, ack, admitted.fields)
    if ack.response is None:
        # on_command acks on every path, its last-resort handler included; should a change
        # break that, Slack still gets the 200 it needs rather than a retry.
        log.error("/chime returned without an ack")
        return web.Response(status=200)
    return _response(ack.response)


def _response(answer: BoltResponse) -> web.Response:
    """What Bolt's `to_aiohttp_response` builds from an ack, less its work for what an ack
    never carries (cookies, headers beside the content type): the content type Bolt gave it,
    without Bolt's charset suffix, as that adapter strips it (tests/web/test_fast_ack.py
    compares)."""
    content_type = answer.headers["content-type"][0].partition(";")[0]
    return web.Response(status=answer.status, body=answer.body, content_type=content_type)
