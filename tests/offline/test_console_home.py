"""The console's `home`: a user's App Home tab, shown as Slack would show it, with buttons that
are pressed as clicks in that tab."""

from __future__ import annotations

from tests.offline.test_console import console, steps


def test_home_shows_the_tab_and_its_buttons_decide_like_the_cards() -> None:
    transcript = console(
        '/chime invite new.hire@example.com --account "Example Corp" starts Monday',
        "home",
        "as U0APPROVER",
        "home",
        "click 3",
        "as U0REQUESTER",
        "home",
        "home now",
    )
    invite, mine, _, theirs, approve, _, mine_after, mistake = steps(transcript)
    assert "[1] Approve  [2] Deny" in invite[1]
    assert "U0REQUESTER's App Home tab" in mine[1] and "Awaiting approval" in mine[1]
    assert "[" not in mine[1].split("App Home tab", 1)[1], "no buttons on one's own request"
    assert "Waiting for your decision (1)" in theirs[1] and "starts Monday" in theirs[1]
    assert "[3] Approve  [4] Deny" in theirs[1]
    assert "in the App Home tab" in approve[1]
    assert "updated in place in #C0APPROVALS" in approve[1] and "Approved" in approve[1]
    assert "direct message to U0REQUESTER" in approve[1]
    assert "Approved by" in mine_after[1]
    assert "home takes nothing" in mistake[1]
