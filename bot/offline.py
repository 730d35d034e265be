"""The bot wired to local stand-ins for both of its peers: the embedded Chime emulator and the
Slack stand-in, all on 127.0.0.1 ephemeral ports. `demo`, `console`, the tests and the benchmark
use it, so the bot they run is the one `serve` runs."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
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
    """A running bot, the Slack stand-in that talks to it, and its Chime emulator (None when
    the bot uses another Chime: an endpoint of the caller's, or AWS)."""

    runtime: Runtime
    emulator: ChimeEmulator | None
    slack: SlackStandIn
    sender: SlackSender


POLICY_FIELDS = ("chime_allowed_channels", "chime_approvers", "chime_approval_channel")
# Set, it makes botocore ignore AWS_ENDPOINT_URL_CHIME too, so only the real-AWS backend keeps it.
IGNORE_ENDPOINTS = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"


def environment_policy(env: Settings) -> dict[str, object]:
    """The environment's allowlist, approvers and approval channel as settings overrides.

    Empty when the environment sets none of them, so the demo policy applies. When it sets any,
    all three are taken as they are, as `serve` would take them: a half-configured policy mixed
    with demo values would behave like neither.
    """
    if not env.model_fields_set & set(POLICY_FIELDS):
        return {}
    return {name: getattr(env, name) for name in POLICY_FIELDS}


@dataclass(frozen=True, slots=True)
class ChimeBackend:
    """A Chime for the bot other than the embedded emulator: another endpoint, or AWS itself."""

    endpoint: str | None  # None: AWS's own endpoint, ignoring any configured override
    credentials: dict[str, str] | None = None  # None: the standard credential chain

    @classmethod
    def aws(cls) -> ChimeBackend:
        return cls(endpoint=None)

    def environment(self) -> dict[str, str | None]:
        """What botocore must read when it builds the client for this backend (None: unset)."""
        if self.endpoint is None:
            # Also covers AWS_ENDPOINT_URL and `endpoint_url` in the AWS config file.
            return {IGNORE_ENDPOINTS: "true"}
        return {"AWS_ENDPOINT_URL_CHIME": self.endpoint, IGNORE_ENDPOINTS: None}

    def describe(self) -> str:
        return self.endpoint or "AWS (the real account of the standard credential chain)"


@asynccontextmanager
async def offline_bot(
    settings_overrides: dict[str, object] | None = None,
    emulator: ChimeEmulator | None = None,
    clock: Clock | None = None,
    slack: SlackStandIn | None = None,
    *,
    chime: ChimeBackend | None = None,
) -> AsyncIterator[OfflineBot]:
    """The bot wired to the Slack stand-in and, unless `chime` names another backend, to the
    embedded emulator; all on 127.0.0.1 ephemeral ports.

    Peers passed in already running are left running, so a test can restart the bot alone.
    Unless the overrides name one, requests go to a throwaway store.
    """
    slack = slack or SlackStandIn()
    async with AsyncExitStack() as stack:
        if chime is None:
            emulator = emulator or ChimeEmulator()
            if not emulator.is_running:
                await emulator.start()
                stack.push_async_callback(emulator.stop)
            # botocore reads AWS's standard per-service endpoint variable when it builds the
            # client; the ignore switch would make it skip that variable too.
            env: dict[str, str | None] = {
                "AWS_ENDPOINT_URL_CHIME": emulator.url,
                IGNORE_ENDPOINTS: None,
            }
            credentials: dict[str, str] | None = OFFLINE_CREDENTIALS
        else:
            emulator, env, credentials = None, chime.environment(), chime.credentials
        stack.enter_context(_environment(env))
        if not slack.is_running:
            await slack.start()
            stack.push_async_callback(slack.stop)
        overrides = dict(settings_overrides or {})
        if "chime_store_url" not in overrides:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="chime-bot-"))
            overrides["chime_store_url"] = f"sqlite:///{scratch}/state.db"
        signing_secret = secrets.token_hex(16)
        settings = offline_settings(slack.api_url, slack.bot_token, signing_secret, **overrides)
        runtime = await Runtime.create(settings, clock=clock, aws_credentials=credentials)
        stack.push_async_callback(runtime.close, 5)
        bot_url = await runtime.start("127.0.0.1", 0)
        session = await stack.enter_async_context(ClientSession())
        sender = SlackSender(f"{bot_url}/slack/events", signing_secret, slack, session)
        yield OfflineBot(runtime, emulator, slack, sender)


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables, restoring them on the way out."""
    previous = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in previous.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
