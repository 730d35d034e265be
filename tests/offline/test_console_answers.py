"""The console says what the bot does: its `as` label is the answer a click gets, and its banner
and `in` notes say where /chime works as the bot's channel gate decides, with user groups and
a policy file (CHIME_POLICY_FILE) as much as with CHIME_APPROVERS and CHIME_ALLOWED_CHANNELS.

Each user and channel is asked both ways in one session: what the console says, then what the
bot does (a click, `/chime pending`, `/chime help`, a command in that channel)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.offline.demo_groups import DEMO_GROUP_MEMBERS
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER
from tests.conftest import CHANNEL
from tests.offline.test_console import console, steps
from tests.policy.test_policy import CORP_BOSS, POLICY, TEAM_BOSS, TEAM_CHANNEL, policy_file

LABEL = re.compile(r"now acting as (\w+) \((an approver|not an approver)\)")


def labels(transcript: str) -> dict[str, bool]:
    return {user: role == "an approver" for user, role in LABEL.findall(transcript)}


def test_as_says_an_approver_exactly_when_the_bot_lets_them_decide() -> None:
    member, stranger = DEMO_GROUP_MEMBERS[0], "U0STRANGER"
    out = console(
        '/chime invite who@example.com --account "Example Corp"',
        f"in {DEMO_APPROVAL_CHANNEL}",
        *(line for user in (stranger, member) for line in (f"as {user}", "/chime pending")),
        f"as {stranger}",
        "click 1",
        f"as {member}",
        "click 1",
        f"as {DEMO_APPROVER}",
    )
    said = labels(out)
    assert said == {stranger: False, member: True, DEMO_APPROVER: True}, said
    _, _, _, stranger_pending, _, member_pending, _, refused, _, approved, _ = steps(out)
    assert "Approvers only" in stranger_pending[1]
    assert "who@example.com" in member_pending[1] and "Approvers only" not in member_pending[1]
    assert "You can't decide" in refused[1]
    assert f"Approved by @{member}" in approved[1]


def test_with_a_policy_file_the_banner_and_notes_say_what_the_bot_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIME_POLICY_FILE", policy_file(tmp_path, POLICY))  # no other settings
    member = DEMO_GROUP_MEMBERS[0]  # of the Corp entry's group, made up by the console
    candidates = [CHANNEL, TEAM_CHANNEL, DEMO_APPROVAL_CHANNEL, "C0NOWHERE"]
    users = [CORP_BOSS, TEAM_BOSS, member, DEMO_APPROVER, "U0STRANGER"]
    out = console(
        '/chime invite corp@example.com --account "Example Corp"',
        *(line for c in candidates for line in (f"in {c}", "/chime user ada@example.com")),
        f"in {CHANNEL}",
        *(line for user in users for line in (f"as {user}", "/chime pending", "/chime help")),
        "as U0STRANGER",
        "click 1",
        f"as {CORP_BOSS}",
        "click 1",
    )
    banner = out.split("\n\n", 1)[0]
    assert "works nowhere" not in banner and "no request can be decided" not in banner
    works = re.search(r"/chime works in ([^;]*);", banner)
    assert works is not None, banner
    listed = {c.strip().lstrip("#") for c in works.group(1).split(",")}

    answers = steps(out)
    filed, rest = answers[0], answers[1:]
    assert "awaits approval" in filed[1]
    # Where /chime works: the banner, the `in` note and the bot's own gate agree.
    for i, channel in enumerate(candidates):
        (_, moved), (_, command) = rest[2 * i], rest[2 * i + 1]
        gated = "not enabled in this channel" in command
        assert ("refused here" in moved) == gated, (channel, moved, command)
        assert (channel in listed) == (not gated), (channel, listed, command)
    rest = rest[2 * len(candidates) + 1 :]
    # Who decides: the `as` label, `/chime pending` and `/chime help` agree, user by user.
    said = labels(out)
    for i, user in enumerate(users):
        (_, pending), (_, help_card) = rest[3 * i + 1], rest[3 * i + 2]
        lists = "Approvers only" not in pending
        approves = help_card.split("You may approve requests for:", 1)[1]
        assert said[user] == lists == ("no account" not in approves), (user, pending, approves)
        assert user in banner or not said[user], "the banner names every approver"
    expected = {CORP_BOSS: True, TEAM_BOSS: True, member: True, DEMO_APPROVER: False}
    assert said == {**expected, "U0STRANGER": False}
    # And a click: refused for a stranger, done for the Corp entry's approver.
    (_, refused), (_, approved) = rest[3 * len(users) + 1], rest[3 * len(users) + 3]
    assert "You can't decide" in refused
    assert f"Approved by @{CORP_BOSS}" in approved
