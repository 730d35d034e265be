"""CHIME_OFFBOARDING (issue 21): `off`, `request` or `suspend`, validated like every other
setting, and refused at start-up when it acts without CHIME_APPROVAL_CHANNEL, the one place its
cards can go (a deactivation has no command channel of its own)."""

from __future__ import annotations

import pytest

from bot.config.settings import ConfigError, load_settings
from tests.cli import run_cli

COMPLETE = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s",
    "CHIME_ALLOWED_CHANNELS": "C0AAA",
    "CHIME_APPROVERS": "U0AAA",
}


def _problems(stderr: str) -> list[str]:
    return [line.removeprefix("  - ") for line in stderr.splitlines() if line.startswith("  - ")]


def test_offboarding_is_off_unless_set_and_takes_its_three_modes() -> None:
    assert load_settings("check").chime_offboarding == "off"
    for mode in ("off", "request", "suspend", " Suspend "):
        settings = load_settings(
            "check", chime_offboarding=mode, chime_approval_channel="C0APPROVALS"
        )
        assert settings.chime_offboarding == mode.strip().lower()


@pytest.mark.parametrize("value", ["yes", "true", "1", "suspended", "request,suspend"])
def test_any_other_mode_is_refused_naming_the_three(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings("check", chime_offboarding=value, chime_approval_channel="C0APPROVALS")
    (problem,) = refused.value.problems
    assert problem.startswith("CHIME_OFFBOARDING: ") and repr(value) in problem, problem
    assert "off, request, suspend" in problem


@pytest.mark.parametrize("mode", ["request", "suspend"])
def test_acting_without_an_approval_channel_stops_serve_naming_both_settings(mode: str) -> None:
    result = run_cli("serve", env={**COMPLETE, "CHIME_OFFBOARDING": mode})
    assert result.returncode == 2, result.stdout + result.stderr
    (problem,) = [p for p in _problems(result.stderr) if p.startswith("CHIME_OFFBOARDING:")]
    assert mode in problem and "CHIME_APPROVAL_CHANNEL" in problem, problem
    # Off needs no channel: cards of commands go to their own channel.
    assert load_settings("check", chime_offboarding="off").chime_approval_channel is None
