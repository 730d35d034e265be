"""Slow and half-open connections: they cannot hold anyone's reply back, nor a socket forever."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp import web

from bot.offline.wiring import OfflineBot
from bot.web.http_guard import LINGER, Answered, RequestGuard, answer
from tests.blockkit import all_text
from tests.conftest import CHANNEL, REQUESTER


async def half_open(url: str, secret: str = "0" * 64) -> asyncio.StreamWriter:
    """A request to /slack/events that sends its headers and part of its body, then stalls.

    `Expect: 100-continue` makes aiohttp answer "100 Continue" just before it calls the handler,
    so once that line is read the request is known to be in the bot's hands."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            "POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={secret}\r\n"
            "Expect: 100-continue\r\nContent-Length: 4096\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert b" 100 " in await asyncio.wait_for(reader.readline(), 10)
    await asyncio.wait_for(reader.readline(), 10)  # the blank line ending the interim answer
    writer.write(b"command=%2Fchime&text=user+")
    await writer.drain()
    return writer


async def test_half_open_connections_do_not_hold_the_acks_first_gate(bot: OfflineBot) -> None:
    gate = bot.runtime.jobs.gate
    # Were a stalled request to count as one being handled, the gate would hold every card for
    # its maximum delay; with this one, such a card would never arrive within the test.
    gate.max_delay = 3600
    stalled = [await half_open(bot.runtime.url) for _ in range(5)]
    try:
        assert gate.in_progress == 0
        exchange = await bot.sender.command(
            "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert exchange.status == 200
        assert "Ada Lovelace" in all_text(await exchange.reply(timeout=10))
        assert gate.in_progress == 0
    finally:
        for writer in stalled:
            writer.close()


async def test_a_body_that_never_arrives_is_refused_with_408(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The guard's read timeout, on the real aiohttp server (a short one, for the test)."""
    guard = RequestGuard("secret", body_timeout=0.2)

    async def events(request: web.Request) -> web.Response:
        try:
            await guard.admit(request)
        except Answered as answered:
            return answer(request, answered)
        return web.Response(text="admitted")  # not reached: the body never comes

    app = web.Application(handler_args={"lingering_time": LINGER})  # as build_web_app
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        caplog.set_level(logging.DEBUG, "chime_bot.http")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\npartial"
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
    finally:
        await runner.cleanup()
    assert b" 408 " in status
    (record,) = [r for r in caplog.records if r.name == "chime_bot.http"]
    assert record.levelno == logging.DEBUG and "not received in time" in record.getMessage()
