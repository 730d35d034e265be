"""Time-bound access (issue 21) in `chime-bot console`: `/chime invite … --for 8h` is filed and
approved with its numbered button, `/chime access` lists it with its end, `later` past the end
shows the suspension's direct message, and `access` typed without /chime gets the hint to add
it, as the other subcommands do."""

from __future__ import annotations

import re

from tests.offline.test_console import console, steps


def test_an_invite_for_8h_is_approved_listed_with_its_end_and_ends() -> None:
    out = console(
        '/chime invite temp.worker@example.com --account "Example Corp" --for 8h contractor',
        "as U0APPROVER",
        "in C0APPROVALS",
        "click 1",
        "as U0REQUESTER",
        "in C0DEMOCHAN",
        "/chime access",
        "access",
        "later 9h",
        "/chime access",
    )
    filed, _, _, approve, _, _, listed, bare, later, after = steps(out)
    assert "for 8h from approval" in filed[1] and "[1] Approve  [2] Deny" in filed[1]
    ends = re.search(r"Access ends (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", approve[1])
    assert ends is not None, approve[1]
    assert "Time-bound access (1)" in listed[1]
    assert "temp.worker@example.com → Example Corp" in listed[1]
    assert f"ends {ends.group(1)}" in listed[1]
    assert bare[1].strip() == "hint: commands start with /chime, e.g. /chime access"
    assert "access you asked for ended" in later[1] and "suspended" in later[1]
    assert "No one has time-bound access now." in after[1]


def test_the_consoles_help_names_the_forms_for_field() -> None:
    ((_, shown),) = steps(console("help"))
    assert "for=" in shown
