"""Socket Mode: opening the connection after checking the app token, and closing it in any state.

The SDK's client keeps the connection up on its own (reconnecting after Slack drops it); what
it needs from us is a checked token to start with, quiet retries, and a close that never hangs.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.auth import call_until_answered
from bot.web.http_guard import unhandled

log = logging.getLogger("chime_bot")

# Closing a connection waits for Slack's close frame; never longer than this.
SOCKET_CLOSE_TIMEOUT = 3.0


async def connect_socket_mode(bolt: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Open the Socket Mode connection. The app token is checked first (apps.connections.open,
    retried like auth.test), so a refused one stops start-up with a line naming it; after
    that the SDK keeps the connection up, reconnecting on its own, logging one line a try."""
    handler: AsyncSocketModeHandler = _Door(
        bolt, app_token, logger=one_line_logger("chime_bot.socket")
    )
    try:
        answer = await call_until_answered(
            lambda: handler.client.web_client.apps_connections_open(app_token=app_token),
            setting="SLACK_APP_TOKEN",
            method="apps.connections.open",
        )
        handler.client.wss_uri = str(answer["url"])
        await handler.connect_async()
    except BaseException:
        await close_socket_mode(handler)
        raise
    return handler


class _Door(AsyncSocketModeHandler):
    """Acks what the HTTP door answers 200 without passing on (bot/web/http_guard.py
    `unhandled`): Bolt answers an event no listener takes with a 404, which its Socket Mode
    adapter never acks, so Slack would send it again and count it as a failed delivery."""

    async def handle(  # type: ignore[override]  # as Bolt's own override, the aiohttp client
        self, client: SocketModeClient, req: SocketModeRequest
    ) -> None:
        if req.type == "events_api" and isinstance(req.payload, dict):
            reason = unhandled(req.payload)
            if reason is not None:
                log.debug("acked and dropped over Socket Mode: %s", reason)
                await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
                return
        await super().handle(client, req)


async def close_socket_mode(handler: AsyncSocketModeHandler) -> None:
    """Close the connection and stop the SDK's reconnecting, in whatever state it is: the
    close handshake waits on Slack, so it gets SOCKET_CLOSE_TIMEOUT and no more."""
    try:
        async with asyncio.timeout(SOCKET_CLOSE_TIMEOUT):  # not wait_for: see tests/test_house.py
            await handler.close_async()
    except TimeoutError:
        log.warning("Socket Mode connection did not close within %.0fs", SOCKET_CLOSE_TIMEOUT)


class _OneLine(logging.Filter):
    """Keeps a library's retry messages to one line each: its tracebacks say nothing the
    message does not (the peer refused, timed out, went away), and repeat every few seconds."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


def one_line_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())
    return logger
