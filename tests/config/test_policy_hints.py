"""A misspelt key in the policy file gets a "did you mean", as a misspelt variable does."""

from __future__ import annotations

from pathlib import Path

from tests.cli import run_cli
from tests.policy.test_policy import policy_file


def test_a_misspelt_key_gets_did_you_mean_like_a_misspelt_variable(tmp_path: Path) -> None:
    text = "defaults: {}\ndefault:\n  aprovers: [U0BOSS]\naccounts:\n  X: {ttll: 60, zzz: 1}\n"
    path = policy_file(tmp_path, text)
    result = run_cli("check", env={"CHIME_POLICY_FILE": path, "CHIME_APROVERS": "U0BOSS"})
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert "  - CHIME_APROVERS: not a chime-bot setting (did you mean CHIME_APPROVERS?)" in problems
    where = f"  - CHIME_POLICY_FILE ({path}): "
    for place, meant in [("default.aprovers", "approvers"), ("accounts.X.ttll", "ttl")]:
        (line,) = [p for p in problems if p.startswith(f"{where}{place}: ")]
        assert "not a policy setting (allowed: channels, approvers, " in line and line.endswith(
            f"; did you mean {meant}?"
        )
    (top,) = [p for p in problems if p.startswith(f"{where}defaults: ")]
    assert top.endswith("(allowed: default, accounts); did you mean default?"), top
    (stray,) = [p for p in problems if p.startswith(f"{where}accounts.X.zzz: ")]
    assert "did you mean" not in stray
