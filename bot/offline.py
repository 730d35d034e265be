"""The bot wired to local stand-ins for both of its peers: the embedded Chime emulator and the
Slack stand-in, all on 127.0.0.1 ephemeral ports. `demo`, `console`, the tests and the benchmark
use it, so the bot they run is the one `serve` runs."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientSession

from bot.app import Runtime
from bot.chime import Clock
from bot.emulator import ChimeEmulator
from bot.settings import Settings
from bot.slack_standin import SlackSender, SlackStandIn

DEMO_CHANNEL = "C0DEMOCHAN"
DEMO_APPROVAL_CHANNEL = "C0APPROVALS"
DEMO_REQUESTER = "U0REQUESTER"
DEMO_APPROVER = "U0APPROVER"
OFFLINE_CREDENTIALS = {
    "aws_access_key_id": "AKIDOFFLINEDEMO",
    "aws_secret_access_key": "offline-demo-secret",
    "region_name": "us-east-1",
}


def offline_settings(
    api_url: str, bot_token: str, signing_secret: str, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": bot_token,
        "slack_signing_secret": signing_secret,
        "slack_api_url": api_url,
        "chime_allowed_channels": f"{DEMO_CHANNEL},{DEMO_APPROVAL_CHANNEL}",
        "chime_approvers": DEMO_APPROVER,
        "chime_approval_channel": DEMO_APPROVAL_CHANNEL,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class OfflineBot:
    """A running offline bot and the Slack stand-in that talks to it."""

    runtime: Runtime
    emulator: ChimeEmulator
    slack: SlackStandIn
    sender: SlackSender


@asynccontextmanager
async def offline_bot(
    settings_overrides: dict[str, object] | None = None,
    emulator: ChimeEmulator | None = None,
    clock: Clock | None = None,
    slack: SlackStandIn | None = None,
) -> AsyncIterator[OfflineBot]:
    """The bot wired to the emulator and the Slack stand-in, all on 127.0.0.1 ephemeral ports.

    Peers passed in already running are left running, so a test can restart the bot alone.
    """
    emulator = emulator or ChimeEmulator()
    slack = slack or SlackStandIn()
    async with AsyncExitStack() as stack:
        if not emulator.is_running:
            await emulator.start()
            stack.push_async_callback(emulator.stop)
        if not slack.is_running:
            await slack.start()
            stack.push_async_callback(slack.stop)
        # botocore reads AWS's standard per-service endpoint variable when it builds the client.
        previous = os.environ.get("AWS_ENDPOINT_URL_CHIME")
        os.environ["AWS_ENDPOINT_URL_CHIME"] = emulator.url
        stack.callback(_restore_env, "AWS_ENDPOINT_URL_CHIME", previous)
        signing_secret = secrets.token_hex(16)
        settings = offline_settings(
            slack.api_url, slack.bot_token, signing_secret, **(settings_overrides or {})
        )
        runtime = await Runtime.create(settings, clock=clock, aws_credentials=OFFLINE_CREDENTIALS)
        stack.push_async_callback(runtime.close, 5)
        bot_url = await runtime.start_http("127.0.0.1", 0)
        session = await stack.enter_async_context(ClientSession())
        sender = SlackSender(f"{bot_url}/slack/events", signing_secret, slack, session)
        yield OfflineBot(runtime, emulator, slack, sender)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
