"""Replies go to Slack alone: never to a foreign response_url, never through a redirect, and a
failed post logs its status, not what the other side answered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession, web

from bot.offline.slack_standin import TEAM_ID
from bot.offline.wiring import OfflineBot
from bot.slack.replies import Responder, slack_origins
from tests.conftest import CHANNEL, REQUESTER


class Foreign:
    """Some other host on the network, recording whatever reaches it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.url = ""

    async def _any(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(text="FOREIGN-ANSWER " * 100, status=500)

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return runner


@pytest.fixture
async def foreign() -> AsyncIterator[Foreign]:
    host = Foreign()
    runner = await host.start()
    yield host
    await runner.cleanup()


async def command(bot: OfflineBot, session: ClientSession, text: str, response_url: str) -> int:
    """A slash command as Slack sends it, signed, but with a response_url of our choosing."""
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": REQUESTER,
            "command": "/chime",
            "text": text,
            "response_url": response_url,
        }
    )
    ts = str(int(time.time()))
    secret = bot.runtime.settings.slack_signing_secret
    assert secret is not None
    mac = hmac.new(secret.get_secret_value().encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
    }
    async with session.post(f"{bot.runtime.url}/slack/events", data=body, headers=headers) as r:
        return r.status


async def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """The replies logger's messages, once one containing `text` has been logged."""
    for _ in range(1000):
        lines = [r.getMessage() for r in caplog.records if r.name == "chime_bot.replies"]
        if any(text in line for line in lines):
            return lines
        await asyncio.sleep(0.01)
    raise AssertionError(f"never logged: {text}")


async def test_a_foreign_response_url_receives_nothing(
    bot: OfflineBot, foreign: Foreign, session: ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "chime_bot.replies")
    for url in (
        f"{foreign.url}/commands/T0/1/abc",
        f"https://hooks.slack.com@{foreign.url.removeprefix('http://')}/commands/1",
        "https://hooks.slack.com.evil.example/commands/1",
        "file:///etc/passwd",
        "/commands/relative",
    ):
        caplog.clear()
        assert await command(bot, session, "user ada@example.com", url) == 200
        lines = await logged(caplog, "reply not sent")
        assert all(foreign.url not in line and "evil" not in line for line in lines)
    assert foreign.hits == []
    # The bot still answers where Slack's response_url is.
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert "Ada Lovelace" in str(await exchange.reply())


async def test_a_redirecting_response_url_is_not_followed(
    bot: OfflineBot, foreign: Foreign, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "chime_bot.replies")
    bot.slack.redirect_responses_to = f"{foreign.url}/collect"
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert exchange.status == 200
    assert await logged(caplog, "response_url answered 307")
    assert foreign.hits == []


async def test_a_failed_post_logs_its_status_not_its_body(
    bot: OfflineBot, session: ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The stand-in's origin, but no such response URL: it answers 404 with a body.
    unknown = bot.slack.api_url.replace("/api/", "/response/never-issued")
    assert await command(bot, session, "user ada@example.com", unknown) == 200
    lines = await logged(caplog, "response_url answered 404")
    assert "no_such_url" not in caplog.text and all(len(line) < 100 for line in lines)


def test_replies_may_go_to_slack_hooks_or_the_configured_stand_in_only() -> None:
    hooks_only = Responder(None, slack_origins())  # type: ignore[arg-type]
    assert hooks_only.target("https://hooks.slack.com/commands/T1/2/x") is not None
    assert hooks_only.target("HTTPS://HOOKS.SLACK.COM:443/actions/T1/2/x") is not None
    for url in (
        "http://hooks.slack.com/commands/1",  # not TLS
        "https://hooks.slack.com:8443/commands/1",
        "https://user@hooks.slack.com/commands/1",
        "https://hooks.slack.com\\@evil.example/",
        "https://slack.com/api/chat.postMessage",  # Slack, but not where response URLs live
        "",
    ):
        assert hooks_only.target(url) is None, url
    stand_in = Responder(None, slack_origins("http://127.0.0.1:8080/api/"))  # type: ignore[arg-type]
    assert stand_in.target("http://127.0.0.1:8080/response/1") is not None
    assert stand_in.target("http://127.0.0.1:8081/response/1") is None
    assert stand_in.target("http://localhost:8080/response/1") is None
