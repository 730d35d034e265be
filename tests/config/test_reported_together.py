"""Every configuration problem in one run: a malformed environment variable does not hide the
policy file's problems until the next run, in `serve` or in `check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.policy.test_policy import policy_file


@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_bad_variable_and_a_bad_policy_file_are_reported_together(
    tmp_path: Path, command: str
) -> None:
    path = policy_file(tmp_path, "default:\n  aprovers: [U0BOSS]\n  ttl: -1\n")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "LOG_LEVEL": "LOUD",
        "CHIME_POLICY_FILE": path,
    }
    result = run_cli(command, env=env)
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert any(p.startswith("  - LOG_LEVEL: 'LOUD' is not one of") for p in problems), problems
    ours = [p for p in problems if p.startswith(f"  - CHIME_POLICY_FILE ({path}): ")]
    assert len(ours) == 2, problems
    assert any("default.aprovers: not a policy setting" in p for p in ours)
    assert any("default.ttl: Input should be greater than 0" in p for p in ours)
