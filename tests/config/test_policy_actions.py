"""The policy file's `actions` (which changes need approval) and `max_access` (the longest
time-bound access an account grants): what a valid file means, and every mistake refused with
its place in the file and what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.policy_file import PolicyFileError, parse_policy
from tests.cli import run_cli
from tests.policy.test_policy import policy_file

WHERE = "policy.yml"


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text.encode(), WHERE)
    return caught.value.problems


def test_actions_and_max_access_are_read_as_written() -> None:
    text = """
default:
  actions: {reset_pin_self: none, logout: approval, suspend: approval}
  max_access: 2w
accounts:
  Example Corp:
    actions:
      logout: none
      license: none
    max_access: 8h
"""
    policy = parse_policy(text.encode(), WHERE)
    assert policy.default is not None and policy.default.actions is not None
    assert policy.default.actions.reset_pin_self == "none"
    assert policy.default.actions.logout == "approval"
    assert policy.default.actions.invite is None, "an action left out falls back, it is not set"
    assert policy.default.max_access == 14 * 86_400
    corp = policy.accounts["Example Corp"]
    assert corp.actions is not None and corp.actions.logout == "none"
    assert corp.max_access == 8 * 3600


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            "actions: {logout: off}",
            "default.actions.logout: YAML read this as false (as it reads no, off): "
            "write approval or none",
        ),
        (
            "actions: {logout: ~}",
            "default.actions.logout: empty (YAML null): write none for no approval, or approval",
        ),
        ("actions: {logout: null}", "default.actions.logout: empty (YAML null): write none"),
        ("actions: {logout: yes-please}", "default.actions.logout: write approval or none"),
        ("actions: {logout: None}", 'write approval or none (got "None")'),
        ("actions: [logout]", "default.actions: Input should be a valid dictionary"),
        (
            "actions: {invite: none}",
            "default.actions.invite: creating a user always needs approval",
        ),
        ("max_access: 0h", 'default.max_access: at least 1h (got "0h")'),
        ("max_access: 30m", 'default.max_access: at least 1h (got "30m")'),
        (
            "max_access: forever",
            'default.max_access: "forever" is not a duration like 8h, 30d or 2w; '
            "leave max_access out for no cap",
        ),
        ("max_access: 3600", "default.max_access: a duration like 8h, 30d or 2w (got 3600)"),
        ("max_access: soon", 'default.max_access: "soon" is not a duration like 8h, 30d or 2w'),
    ],
    ids=[
        "yaml-false",
        "tilde",
        "null",
        "unknown-value",
        "capital-none",
        "list",
        "invite-none",
        "zero",
        "under-an-hour",
        "forever",
        "bare-number",
        "words",
    ],
)
def test_a_bad_value_is_refused_with_what_to_write(line: str, why: str) -> None:
    (problem,) = problems(f"default:\n  {line}\n")
    assert problem.startswith(f"{WHERE}: ")
    assert why in problem, problem


def test_an_unknown_action_lists_the_actions_and_suggests_the_closest() -> None:
    text = "accounts:\n  X:\n    actions: {reset_pin_slef: none, reboot: approval}\n"
    found = problems(text)
    allowed = (
        "not an action (allowed: invite, suspend, unsuspend, logout, reset_pin, "
        "reset_pin_self, license, extend)"
    )
    hinted = f"{WHERE}: accounts.X.actions.reset_pin_slef: {allowed}; did you mean reset_pin_self?"
    assert hinted in found
    assert f"{WHERE}: accounts.X.actions.reboot: {allowed}" in found
    assert len(found) == 2


def test_new_keys_are_named_in_the_allowed_list_and_hinted(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "default:\n  action: {logout: none}\n  max_acess: 8h\n")
    result = run_cli("serve", env={"CHIME_POLICY_FILE": path})
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("  - CHIME_POLICY_FILE")]
    allowed = "approvals_required, user_types, ttl, actions, max_access)"
    (action,) = [ln for ln in lines if "default.action:" in ln]
    assert action.endswith(f"{allowed}; did you mean actions?"), action
    (access,) = [ln for ln in lines if "default.max_acess:" in ln]
    assert access.endswith(f"{allowed}; did you mean max_access?"), access
