"""The request form in `chime-bot console`: opened by `/chime invite` or `shortcut`, shown as
text, filled with `form field=value …`, its errors shown, its request filed and approvable."""

from __future__ import annotations

from tests.offline.test_console import console, steps


def test_the_form_opens_fills_and_files_a_request_that_can_be_approved() -> None:
    out = console(
        "/chime invite",
        'form email=form.user@example.com account="example corp" reason="new hire"',
        "as U0APPROVER",
        "in C0APPROVALS",
        "click 1",
    )
    (_, opened), (_, filed), _, _, (_, approved) = steps(out)
    assert "Request a Chime user" in opened and "1) Example Corp" in opened
    assert "Example Labs" not in opened  # connected to Okta: never offered
    assert "form email=… account=… type=… reason=…" in opened
    assert "posted in #C0APPROVALS" in filed and "form.user@example.com" in filed
    assert "direct message to U0REQUESTER" in filed and "awaits approval" in filed
    assert "Approved by @U0APPROVER" in approved


def test_the_shortcut_asks_for_a_channel_and_mistakes_get_answers() -> None:
    out = console(
        "form email=x@example.com",
        "shortcut",
        "form email=x@example.com account=7",
        "form colour=blue",
        "form email=nope channel=C0ELSEWHERE account=2",
        "form email=ok.person@example.com channel=C0DEMOCHAN account=2 type=shareddevice",
    )
    (_, none_open), (_, opened), (_, no_such), (_, unknown), (_, errors), (_, filed) = steps(out)
    assert "no form is open for U0REQUESTER" in none_open
    assert "Channel (channel=…)" in opened and "reason=… channel=…" in opened
    assert "account='7' is not one of the choices" in no_such
    assert "form takes email=…" in unknown
    assert "The form needs fixing" in errors and "is not an email address" in errors
    assert "channel: /chime only works in the channels listed" in errors
    assert "SharedDevice" in filed and "Example Team" in filed and "awaits approval" in filed


def test_the_forms_access_for_is_shown_and_filled_with_for() -> None:
    out = console(
        "/chime invite",
        "form email=temp.form@example.com account=1 for=never",
        "form email=temp.form@example.com account=1 for=8h",
    )
    (_, opened), (_, refused), (_, filed) = steps(out)
    assert "Access for (for=…)" in opened and "1) No end (chosen)" in opened
    assert "5) 30 days" in opened and "for=…" in opened
    assert "for='never' is not one of the choices" in refused
    assert "temp.form@example.com" in filed and "for 8h from approval" in filed
