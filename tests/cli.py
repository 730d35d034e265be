"""Run `chime-bot` (as `python -m bot`) in a child process, as an operator would.

Every run also checks the one promise every command makes: whatever goes wrong, no traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, DEMO_CHANNEL


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


async def run_cli_async(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """For commands that talk to a stand-in or emulator served on the test's own event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert b"Traceback" not in out + err, err.decode()
    return proc.returncode or 0, out.decode(), err.decode()


def offline_env(
    slack: SlackStandIn, emulator: ChimeEmulator, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """A correct deployment's environment, pointed at the Slack stand-in and the emulator."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": slack.api_url,
        "AWS_ENDPOINT_URL_CHIME": emulator.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CHIME_ALLOWED_CHANNELS": DEMO_CHANNEL,
        "CHIME_APPROVERS": DEMO_APPROVER,
        "CHIME_APPROVAL_CHANNEL": DEMO_APPROVAL_CHANNEL,
        "CHIME_DEFAULT_ACCOUNT": "Example Corp",
        "CHIME_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        **extra,
    }
