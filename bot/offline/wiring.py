"""The bot wired to local stand-ins for both of its peers: the embedded Chime emulator and the
Slack stand-in, all on 127.0.0.1 ephemeral ports. `demo`, `console`, the tests and the benchmark
use it, so the bot they run is the one `serve` runs."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientError, ClientSession

from bot.app import Runtime
from bot.clock import Clock
from bot.config.settings import Settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackSender, SlackStandIn
from bot.offline.standin_people import Person

DEMO_CHANNEL = "C0DEMOCHAN"
DEMO_APPROVAL_CHANNEL = "C0APPROVALS"
DEMO_REQUESTER = "U0REQUESTER"
DEMO_APPROVER = "U0APPROVER"
# Their Slack profiles: addresses of Chime users the emulator seeds (bot/offline/emulator/
# seed.json, Example Corp), so a Slack user and a Chime user can be matched offline (issue 21).
DEMO_PEOPLE = {
    DEMO_REQUESTER: Person("ada@example.com", "Ada Lovelace"),
    DEMO_APPROVER: Person("alan@example.com", "Alan Turing"),
}
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


POLICY_FIELDS = (
    "chime_allowed_channels",
    "chime_approvers",
    "chime_approval_channel",
    "chime_approvals_required",
    "chime_policy_file",
    "chime_policy_ssm_parameter",
)
# Set, it makes botocore ignore AWS_ENDPOINT_URL_CHIME too, so only the real-AWS backend keeps it.
IGNORE_ENDPOINTS = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"


def environment_policy(env: Settings) -> dict[str, object]:
    """The environment's policy (allowlist, approvers, approval channel, approvals required and
    the per-account policy file) as settings overrides.

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
    for user, person in DEMO_PEOPLE.items():
        slack.people.by_id.setdefault(user, person)  # a person the caller defined keeps theirs
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


# ---- the bot as a separate process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """`chime-bot serve` as its own OS process, wired to a Chime endpoint and a Slack stand-in
    running here: for restart, crash, shutdown and replica tests, and for the benchmark."""

    # Interpreter options before `-m bot serve`: the benchmark's profiler runs the bot under
    # `-m cProfile -o <file>`.
    launcher: tuple[str, ...] = ()

    def __init__(
        self,
        chime_url: str,
        slack: SlackStandIn,
        store_path: Path,
        session: ClientSession,
        **extra_env: str,
    ) -> None:
        self.port = free_port()
        self.signing_secret = secrets.token_hex(16)
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "CHIME_ALLOWED_CHANNELS": f"{DEMO_CHANNEL},{DEMO_APPROVAL_CHANNEL}",
            "CHIME_APPROVERS": DEMO_APPROVER,
            "CHIME_APPROVAL_CHANNEL": DEMO_APPROVAL_CHANNEL,
            "CHIME_STORE_URL": f"sqlite:///{store_path.resolve()}",
            "AWS_ENDPOINT_URL_CHIME": chime_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PORT": str(self.port),
            **extra_env,
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.sender = SlackSender(f"{self.url}/slack/events", self.signing_secret, slack, session)
        self.session = session
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = store_path.parent / f"bot-{self.port}.log"

    async def start(self) -> BotProcess:
        """Launch the bot and wait until it reports ready."""
        await self.launch()
        assert self.proc is not None
        for _ in range(600):
            if self.proc.returncode is not None:
                raise RuntimeError(f"bot exited early: {self.log()[-2000:]}")
            try:
                async with self.session.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return self
            except ClientError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("bot did not become ready")

    async def launch(self) -> BotProcess:
        """Launch the bot without waiting for it to become ready."""
        # Logs go to a file: an unread pipe would fill up and stall the bot.
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.launcher,
                "-m",
                "bot",
                "serve",
                "--host",
                "127.0.0.1",
                env=self.env,
                stdout=log,
                stderr=log,
            )
        return self

    async def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    async def wait_log(self, text: str, count: int = 1, timeout: float = 30) -> None:
        """Wait until `text` appears `count` times in the bot's log."""
        for _ in range(int(timeout / 0.05)):
            if self.log().count(text) >= count:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{text!r} not logged {count} times: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def kill(self) -> None:
        """An abrupt crash: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(30):
            return await self.proc.wait()
