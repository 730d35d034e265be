"""The `chime-bot` command line as an operator meets it: real processes, real exit codes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bot.config.settings import ConfigError, load_settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import BotProcess
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]


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


async def test_serve_answers_healthz_and_stops_on_sigterm(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(emulator.url, slack, tmp_path / "state.db", session).start()
    async with session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["ready"] is True
    assert await bot.stop() == 0


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
    # A suspension and a license change, each from its card to Chime's answer (issue 21).
    suspension = out.split("$ /chime suspend edsger@example.com", 1)[1]
    assert "Approval runs BatchSuspendUser with" in suspension
    assert re.search(r"Approved by @U0APPROVER .*\nSuspended and signed out\.", suspension)
    license_change = out.split("$ /chime license grace@example.com Pro", 1)[1]
    assert "Approval runs UpdateUser with" in license_change
    assert re.search(r"Approved by @U0APPROVER .*\nThe license is now Pro\.", license_change)
    # A two-approval request, approved by a user group's member and then by a listed user.
    two = out.split("CHIME_APPROVALS_REQUIRED=2", 1)[1]
    assert "user group S0CHIMEADMINS has members U0APPROVER2" in two
    assert "1 of 2 approvals · approved by @U0APPROVER2" in two
    assert "You already approved; one more approver needed" in two
    assert "Approved by @U0APPROVER2 and @U0APPROVER" in two and "Created user" in two
    assert not re.search(r"\x1b\[", out), "no colour codes when piped"
    assert result.stderr == "", "a quiet start: no warnings, no tracebacks"


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


# ---- one validation for every command ---------------------------------------------------------

MISTAKES = {
    "LOG_LEVEL": "LOUD",
    "LOG_FORMAT": "xml",
    "CHIME_STORE_URL": "postgres://x",
    "CHIME_APROVERS": "U0APPROVER",  # a typo of CHIME_APPROVERS
    "CHIME_REQUEST_TTL": "tomorrow",
    "AWS_REGION": "europe",
}


@pytest.mark.parametrize(
    "command",
    [["serve"], ["check"], ["demo"], ["console"], ["init-store"], ["init-store", "--print-policy"]],
)
def test_every_command_lists_every_mistake_one_line_each_and_exits_2(command: list[str]) -> None:
    result = run_cli(*command, env=MISTAKES)
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr
    assert "Traceback" not in err + result.stdout
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    named = {line.removeprefix("  - ").split(":")[0] for line in problems}
    assert set(MISTAKES) <= named, err
    assert "did you mean CHIME_APPROVERS?" in err
    assert "'LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in err
    assert "'tomorrow'" in err, "the value given is quoted"


@pytest.mark.parametrize("url", ["postgres://x", "sqlite:///", "dynamodb://", "dynamodb://a/b"])
def test_unusable_store_urls_are_configuration_mistakes(url: str) -> None:
    result = run_cli("serve", env={"CHIME_STORE_URL": url})
    assert result.returncode == 2
    assert f"CHIME_STORE_URL: {url!r} is not sqlite:///path/state.db or dynamodb://<table>" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_mistakes_in_the_dotenv_file_are_found_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=verbose\nCHIME_ALOWED_CHANNELS=C0AAA\n")
    result = run_cli("check")
    assert result.returncode == 2
    assert "LOG_LEVEL: 'verbose'" in result.stderr
    assert "CHIME_ALOWED_CHANNELS: not a chime-bot setting" in result.stderr


def test_an_undecodable_dotenv_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"SLACK_BOT_TOKEN=\xff\xfe\n")
    result = run_cli("serve")
    assert result.returncode == 2
    assert ".env: cannot be read" in result.stderr and "Traceback" not in result.stderr


def test_values_are_read_in_any_letter_case_and_spacing() -> None:
    settings = load_settings(
        "check", log_level=" debug ", log_format="JSON", chime_store_url=" sqlite:///x.db "
    )
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.chime_store_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    "mistake",
    [
        {"LOG_LEVEL": "LOUD"},
        {"CHIME_STORE_URL": "dynamodb://"},
        {"CHIME_APPROVAL_CHANNEL": "#approvals"},
        {"PORT": "70000"},
        {"SLACK_API_URL": "slack.com/api"},
        {"CHIME_MAX_CONCURRENCY": "0"},
    ],
)
def test_check_never_passes_a_setting_serve_rejects(mistake: dict[str, str]) -> None:
    complete = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "CHIME_ALLOWED_CHANNELS": "C0AAA",
        "CHIME_APPROVERS": "U0AAA",
        **mistake,
    }
    served, checked = run_cli("serve", env=complete), run_cli("check", env=complete)
    assert served.returncode == 2 and checked.returncode == 2, checked.stdout
    name = next(iter(mistake))
    assert f"  - {name}:" in served.stderr and f"  - {name}:" in checked.stderr
    assert served.stderr == checked.stderr, "the same words for the same mistake"


def test_the_console_module_validates_like_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.offline.console"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
        env={**os.environ, "LOG_LEVEL": "LOUD"},
    )
    assert result.returncode == 2 and "  - LOG_LEVEL: 'LOUD'" in result.stderr
    assert "Traceback" not in result.stderr


COMPLETE = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s",
    "CHIME_ALLOWED_CHANNELS": "C0AAA",
    "CHIME_APPROVERS": "U0AAA",
}


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_flag_out_of_range_is_refused_like_the_setting(port: str) -> None:
    result = run_cli("serve", "--port", port, env=COMPLETE)
    assert result.returncode == 2
    assert f"{port!r} is not a port (0-65535)" in result.stderr


def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **COMPLETE,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached: the port comes first
            "CHIME_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        }
        result = run_cli("serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    assert result.returncode == 1
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("chime-bot:")]
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port or PORT" in line
