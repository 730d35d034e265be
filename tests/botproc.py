"""`chime-bot serve` as a separate OS process, wired to the test's emulator and Slack stand-in."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

from aiohttp import ClientError, ClientSession

from bot.emulator import ChimeEmulator
from bot.offline import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, DEMO_CHANNEL
from bot.slack_standin import SlackSender, SlackStandIn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    def __init__(
        self,
        emulator: ChimeEmulator,
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
            "AWS_ENDPOINT_URL_CHIME": emulator.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PORT": str(self.port),
            **extra_env,
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.sender = SlackSender(f"{self.url}/slack/events", self.signing_secret, slack, session)
        self._session = session
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = store_path.parent / f"bot-{self.port}.log"

    async def start(self) -> BotProcess:
        # Logs go to a file: an unread pipe would fill up and stall the bot.
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--host",
                "127.0.0.1",
                env=self.env,
                stdout=log,
                stderr=log,
            )
        for _ in range(600):
            if self.proc.returncode is not None:
                raise RuntimeError(f"bot exited early: {self.log()[-2000:]}")
            try:
                async with self._session.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return self
            except ClientError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("bot did not become ready")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def kill(self) -> None:
        """An abrupt crash: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 30)
