"""CHIME_EXECUTION_LEASE is how long another replica waits before it settles a claimed
approval as stranded: shorter than the Chime call it covers, it would settle a call still in
flight. So it is checked when the settings load, with the other settings' problems."""

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


@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_lease_shorter_than_the_chime_call_it_covers_is_refused_naming_both(
    command: str,
) -> None:
    # 20 s of retries, a 10 s read and 3 s to connect: the last attempt may end 33 s in.
    env = {**COMPLETE, "CHIME_EXECUTION_LEASE": "30", "CHIME_APROVERS": "U0AAA"}
    result = run_cli(command, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    problems = _problems(result.stderr)
    (lease,) = [p for p in problems if p.startswith("CHIME_EXECUTION_LEASE:")]
    assert "30" in lease and "33" in lease, lease
    assert "CHIME_RETRY_BUDGET" in lease and "CHIME_READ_TIMEOUT" in lease
    assert any(p.startswith("CHIME_APROVERS:") for p in problems), "reported together"


def test_a_lease_of_zero_is_refused() -> None:
    result = run_cli("serve", env={**COMPLETE, "CHIME_EXECUTION_LEASE": "0"})
    assert result.returncode == 2
    assert any(p.startswith("CHIME_EXECUTION_LEASE:") for p in _problems(result.stderr))


def test_the_lease_is_judged_against_the_budget_and_timeout_actually_set() -> None:
    def lease(seconds: float) -> float:
        settings = load_settings(
            "check", chime_execution_lease=seconds, chime_retry_budget=5, chime_read_timeout=5
        )
        return settings.chime_execution_lease

    assert lease(14.0) == 14
    with pytest.raises(ConfigError) as refused:
        lease(12.0)
    (problem,) = refused.value.problems
    assert problem.startswith("CHIME_EXECUTION_LEASE: 12 s ") and "13 s" in problem, problem
    assert "\n" not in problem, "one line"
    # The default lease covers the default call.
    assert load_settings("check").chime_execution_lease == 60
