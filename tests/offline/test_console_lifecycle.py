"""The console takes the lifecycle commands (issue 21) like any /chime text: their cards, their
numbered buttons, what the approval did, and the PIN's direct message shown to its owner.

The console user U0REQUESTER is ada@example.com in the stand-in, so a reset of ada's PIN is a
reset of one's own: no approval, and the new PIN in a direct message to U0REQUESTER. The console
shows it: Slack shows that message to its owner, who is the console user, and the console's PINs
are the emulator's made-up ones (with --aws, whoever runs it holds credentials that read PINs).
Nowhere else in the transcript is the PIN.
"""

from __future__ import annotations

import re

from tests.offline.test_console import console, steps


def test_a_suspension_is_filed_approved_with_its_numbered_button_and_done() -> None:
    out = console(
        "/chime suspend edsger@example.com left the company",
        "as U0APPROVER",
        "in C0APPROVALS",
        "click 1",
        "as U0REQUESTER",
        "/chime user edsger@example.com",
    )
    filed, _, _, approve, _, lookup = steps(out)
    assert "to suspend edsger@example.com in Example Corp awaits approval" in filed[1]
    assert "posted in #C0APPROVALS" in filed[1] and "Amazon Chime suspension request" in filed[1]
    assert "Approval runs BatchSuspendUser with" in filed[1]
    assert "[1] Approve  [2] Deny" in filed[1]
    assert "updated in place in #C0APPROVALS" in approve[1]
    assert "Approved by @U0APPROVER" in approve[1] and "Suspended and signed out." in approve[1]
    assert "[1] Approve" not in approve[1], "a decided card has no buttons"
    assert "direct message to U0REQUESTER" in approve[1]
    assert "Your Chime suspension request was approved by @U0APPROVER" in approve[1]
    assert "Suspended" in lookup[1]


def test_a_license_change_shows_its_call_and_the_new_license() -> None:
    out = console(
        "/chime license grace@example.com Pro hosts large meetings",
        "as U0APPROVER",
        "click 1",
    )
    filed, _, approve = steps(out)
    assert "Amazon Chime license request" in filed[1]
    assert "moved from the Basic license to Pro" in filed[1]
    assert "Approval runs UpdateUser with" in filed[1] and "LicenseType:" in filed[1]
    assert "Approved by @U0APPROVER" in approve[1] and "The license is now Pro." in approve[1]


def test_resetting_your_own_pin_runs_at_once_and_only_its_dm_shows_the_pin() -> None:
    out = console("/chime reset-pin ada@example.com")
    ((_, reset),) = steps(out)
    reply, dm = reset.split("-- direct message to U0REQUESTER --")
    assert "only you see this" in reply and "awaits approval" not in reply
    assert "sent to its owner by direct message" in reply
    assert "Approve" not in reset, "no card, no buttons: one's own PIN needs no approver"
    (pin,) = re.findall(r"^(\d{10})$", dm, re.MULTILINE)
    assert "Your new PIN" in dm
    assert out.count(pin) == 1, "the PIN is in its owner's direct message and nowhere else"


def test_a_lifecycle_command_without_slash_chime_gets_the_hint_to_add_it() -> None:
    out = console("suspend edsger@example.com", "reset-pin ada@example.com")
    for _, answer in steps(out):
        assert answer.strip().startswith("hint: commands start with /chime, e.g. /chime "), answer
