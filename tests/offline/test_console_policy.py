"""The console honours CHIME_POLICY_FILE as `serve` does: the file's per-account channels and
rules apply, and the banner says where the policy comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CHANNEL
from tests.offline.test_console import console, steps
from tests.policy.test_policy import POLICY, TEAM_CHANNEL, policy_file


def test_the_console_applies_the_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIME_POLICY_FILE", policy_file(tmp_path, POLICY))
    monkeypatch.setenv("CHIME_ALLOWED_CHANNELS", CHANNEL)
    transcript = console(
        '/chime invite t@example.com --account "Example Team"',
        f"in {TEAM_CHANNEL}",
        '/chime invite t@example.com --account "Example Team"',
    )
    assert "Per-account policy from" in transcript
    refused, _, filed = steps(transcript)
    assert "Request not filed" in refused[1] and TEAM_CHANNEL in refused[1]
    assert "awaits approval" in filed[1] or "Approve" in filed[1]
