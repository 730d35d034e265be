"""The console and demo show a user-group approver: the offline Slack stand-in knows the group
(usergroups.users.list), so a member's click is allowed instead of failing closed."""

from __future__ import annotations

import pytest

from bot.offline.demo_groups import DEMO_APPROVER_GROUP, DEMO_GROUP_MEMBERS
from tests.offline.test_console import console, steps


def test_made_up_settings_have_a_group_whose_member_can_approve() -> None:
    member = DEMO_GROUP_MEMBERS[0]
    out = console(
        '/chime invite member@example.com --account "Example Corp"',
        f"as {member}",
        "in C0APPROVALS",
        "click 1",
    )
    banner = out.split("\n\n", 1)[0]
    assert f"Approvers: U0APPROVER, {DEMO_APPROVER_GROUP}." in banner
    assert f"User group {DEMO_APPROVER_GROUP}: members {', '.join(DEMO_GROUP_MEMBERS)}" in banner
    approve = steps(out)[-1][1]
    assert f"Approved by @{member}" in approve and "Created user" in approve


def test_a_group_named_in_the_environment_gets_made_up_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHIME_ALLOWED_CHANNELS", "C0MINE")
    monkeypatch.setenv("CHIME_APPROVERS", "U0BOSS,S0MYTEAM")
    monkeypatch.setenv("CHIME_APPROVALS_REQUIRED", "2")
    out = console(
        '/chime invite team@example.com --account "Example Corp"',
        f"as {DEMO_GROUP_MEMBERS[1]}",
        "click 1",
        "click 1",
        "as U0STRANGER",
        "click 1",
        "as U0BOSS",
        "click 1",
    )
    assert "Approvers: U0BOSS, S0MYTEAM. User group S0MYTEAM: members" in out
    invite, _, first, again, _, stranger, _, last = steps(out)
    assert "0 of 2 approvals" in invite[1]
    assert f"1 of 2 approvals · approved by @{DEMO_GROUP_MEMBERS[1]}" in first[1]
    assert "You already approved; one more approver needed" in again[1]
    assert "only you see this" in stranger[1] and "CHIME_APPROVERS" in stranger[1]
    assert f"Approved by @{DEMO_GROUP_MEMBERS[1]} and @U0BOSS" in last[1]
    assert "Created user" in last[1]
