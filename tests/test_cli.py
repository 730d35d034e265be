"""The `chime-bot` command line as an operator meets it: real processes, real exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_serve_without_tokens_lists_every_problem_and_exits_2() -> None:
    result = run_cli("serve", env={"CHIME_ALLOWED_CHANNELS": "C0OK,general,#random"})
    assert result.returncode == 2
    err = result.stderr
    assert "SLACK_BOT_TOKEN: missing" in err
    assert "SLACK_SIGNING_SECRET: missing" in err
    assert "CHIME_ALLOWED_CHANNELS" in err and "general" in err and "#random" in err
    assert "Traceback" not in err


def test_config_problems_are_collected_not_raised_one_by_one() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            "serve", chime_approvers="U0OK,bob", chime_approval_channel="nope", chime_request_ttl=0
        )
    text = raised.value.render()
    for fragment in (
        "CHIME_APPROVERS",
        "bob",
        "CHIME_APPROVAL_CHANNEL",
        "CHIME_REQUEST_TTL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ):
        assert fragment in text


def test_settings_parse_lists_and_hide_secrets() -> None:
    settings = load_settings(
        "serve",
        slack_bot_token="xoxb-real-secret",
        slack_signing_secret="shh",
        chime_allowed_channels=" C0AAA , G0BBB,, ",
    )
    assert settings.chime_allowed_channels == ("C0AAA", "G0BBB")
    assert "xoxb-real-secret" not in repr(settings) and "shh" not in repr(settings)
    assert settings.slack_api_url == "https://slack.com/api/"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=s\n")
    settings = load_settings("serve")
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-file"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_healthz_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "PORT": str(port),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert body is not None, proc.stdout.read() if proc.stdout else ""
        assert '"ready": true' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_runs_offline_and_exits_0() -> None:
    result = run_cli("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "$ /chime help" in out and "/chime invite" in out
    assert "Ada Lovelace" in out and "Example Corp" in out
    assert "No Chime user with the email nobody@example.com" in out
    assert "not an email address" in out
    assert "4839201756" not in out
    # The invite flow: filed, approved by an approver, and visible in a follow-up lookup.
    assert "awaits approval." in out and "Approvers decide in #C0APPROVALS" in out
    assert "[Approve]  [Deny]" in out
    created = re.search(r"Approved by @U0APPROVER .*\nCreated user ([0-9a-f-]{36})", out)
    assert created, out
    lookup = out.split("$ /chime user new.hire@example.com")[1]
    assert created.group(1) in lookup
    assert not re.search(r"\x1b\[", out), "no colour codes when piped"
    assert "Traceback" not in result.stderr


def test_socket_mode_needs_an_app_token_not_a_signing_secret() -> None:
    result = run_cli("serve", "--socket-mode", env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" not in result.stderr


def test_check_with_nothing_configured_lists_failures_and_exits_1() -> None:
    result = run_cli(
        "check",
        env={
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "AWS_ENDPOINT_URL_CHIME": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
            "CHIME_RETRY_BUDGET": "0.5",
        },
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ Slack bot token" in result.stdout and "fix:" in result.stdout
    assert "✗ Allowed channels" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
