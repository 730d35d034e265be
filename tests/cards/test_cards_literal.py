"""Every card builder, fed hostile text (Hypothesis over Unicode and mrkdwn syntax): the message
is valid Block Kit by Slack's rules, untrusted text shows only as itself, and the card's layout
(its mrkdwn, where each text sits, where lines break) is the same as for harmless text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.cards.approval import approval_card
from bot.cards.base import (
    WORD_JOINER,
    Reply,
    clean,
    error_card,
    help_card,
    literal,
    not_found_card,
    user_card,
)
from bot.cards.notes import (
    already_approved_note,
    decided_already_note,
    duplicate_note,
    exists_note,
    filed_note,
    outcome_note,
    progress_note,
)
from bot.cards.pending import pending_list
from bot.models import Account, ChimeUser, UserRecord
from bot.offline.blockkit import message_problems
from bot.store import InviteRequest, Status
from handlers.help import ENTRIES
from tests.blockkit import card_layout, literal_problems, plain_strings

# Pieces of mrkdwn and Slack syntax, invisible and line-breaking characters, and text that
# would look like the bot's own wording.
PIECES = [
    "*", "_", "~", "`", "```", ">", "> ", "<", "&", "&amp;", "&lt;", "|", ":", "#", "@",
    "<!channel>", "<!here>", "<@U0BOSS>", "<#C0GENERAL|general>", "<https://evil.example|ok>",
    "@here", "#general", "https://evil.example/login", "HTTP://x.y", "mailto:a@b.co",
    "www.evil.example", ":white_check_mark:", "*Approved*", "_italic_", "~strike~", "`code`",
    "\n", "\r\n", "\t", "\x00", "\x1b[31m", "\u2028", "\u2029", "\u202e", "\u200b", "\u200d",
    "\u2060", "\ufeff", "\u00a0", "\ud800", "😀", "👩‍💻", "é", "İ", "ﷺ", " ", "  ",
    "Approved by", "fine\n*Approved* by …\n:white_check_mark: done https://evil.example/login",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=10).map(
    "".join
)
# Long texts too: at and beyond every limit (Chime may send anything; the parser allows 500).
hostile_long = st.one_of(
    hostile, st.tuples(hostile, st.integers(1, 400)).map(lambda t: (t[0] or "x") * t[1])
)
SLACK_ID_LIST = ["U0REQUESTER", "W0APPROVER", "U0APPROVER"]
SLACK_IDS = st.sampled_from(SLACK_ID_LIST)
EPOCH = 1_795_000_000.0
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def harmless(value: Any) -> Any:
    """The same value with untrusted text (every non-empty string, and a request's data but not
    its Slack IDs) replaced by "x": the layout must not change."""
    if isinstance(value, InviteRequest):
        return replace(
            value,
            email=harmless(value.email),
            user_type=harmless(value.user_type),
            reason=harmless(value.reason),
            account_id=harmless(value.account_id),
            account_name=harmless(value.account_name),
            requester=value.requester if value.requester in SLACK_ID_LIST else "x",
            approvals=tuple(a if a in SLACK_ID_LIST else "x" for a in value.approvals),
            result=harmless(value.result),
            error=harmless(value.error),
        )
    if isinstance(value, str):
        return "x" if value else value
    if isinstance(value, dict):
        return {k: harmless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [harmless(v) for v in value]
    return value


def check(build: Callable[..., Reply], *args: Any) -> None:
    message = build(*args).as_message()
    assert not message_problems(message), (message_problems(message), message)
    assert not literal_problems(message), literal_problems(message)
    safe = build(*[harmless(a) for a in args]).as_message()
    assert _layout(message) == _layout(safe), "untrusted text changed the card's layout"


def _layout(message: dict[str, Any]) -> list[str]:
    return [re.sub(r"<!date\^[^>]*>", "<date>", part) for part in card_layout(message)]


def request_from(draw: st.DrawFn) -> InviteRequest:
    status = draw(st.sampled_from(list(Status)))
    result = draw(
        st.sampled_from(
            [
                None,
                {"user_id": draw(hostile_long)},
                {"user_id": draw(hostile), "reconciled": "true"},
                {"outcome": "already_exists", "user_id": draw(hostile)},
                {"invite_status": draw(hostile), "invite_id": draw(hostile)},
            ]
        )
    )
    return InviteRequest(
        id=draw(st.sampled_from(["REQ-ABCDEFGHIJ", "REQ-2345672345"])),
        email=draw(hostile_long),
        user_type=draw(st.one_of(st.sampled_from(["PrivateUser", "SharedDevice"]), hostile)),
        reason=draw(hostile_long),
        account_id=draw(hostile_long),
        account_name=draw(hostile_long),
        account_type=draw(st.sampled_from(["Team", "EnterpriseLWA"])),
        requester=draw(st.one_of(SLACK_IDS, hostile)),
        origin_channel=draw(st.sampled_from(["C0DEMOCHAN", "C0APPROVALS"])),
        created_at=EPOCH,
        expires_at=EPOCH + 86400,
        status=status,
        card_channel="C0APPROVALS",
        card_ts="1795000000.000001",
        decided_by=draw(st.one_of(st.none(), SLACK_IDS)),
        decided_at=EPOCH + 60,
        result=result,
        error=draw(st.one_of(st.none(), hostile_long)),
        updated_at=EPOCH + 60,
        # Approvers come from signed clicks, but a store is data too: hostile ones as well.
        approvals_required=draw(st.sampled_from([1, 2])),
        approvals=tuple(draw(st.lists(st.one_of(SLACK_IDS, hostile), max_size=2))),
    )


requests = st.composite(request_from)()


@FAST
@given(requests)
def test_approval_card_in_every_state(request: InviteRequest) -> None:
    check(approval_card, request)


@FAST
@given(requests)
def test_notes_about_a_request(request: InviteRequest) -> None:
    check(lambda r: filed_note(r, "C0APPROVALS"), request)
    check(duplicate_note, request)
    check(outcome_note, request)
    check(decided_already_note, request)
    check(progress_note, request)
    check(already_approved_note, request)


@FAST
@given(st.lists(requests, max_size=25))
def test_pending_list(batch: list[InviteRequest]) -> None:
    check(lambda b: pending_list(b, EPOCH + 7200), batch)


@FAST
@given(st.lists(requests, min_size=1, max_size=25), st.integers(1, 12))
def test_pending_list_with_bulk_invites(drawn: list[InviteRequest], size: int) -> None:
    """Bulk invites of `size` addresses: one entry each, its addresses on one line."""
    listed = []
    for i, request in enumerate(drawn):
        lead = f"REQ-{i // size:010d}"
        first = i % size == 0
        listed.append(replace(request, id=lead if first else f"REQ-M{i:09d}", batch_id=lead))
    check(lambda b: pending_list(b, EPOCH + 7200), listed)


@FAST
@given(hostile_long, st.lists(hostile_long, min_size=1, max_size=5))
def test_exists_and_not_found(email: str, accounts: list[str]) -> None:
    check(exists_note, email, accounts)
    check(not_found_card, email)


@FAST
@given(hostile_long, st.one_of(st.none(), hostile_long))
def test_error_and_help_cards(message: str, hint: str | None) -> None:
    check(lambda m, h: error_card("Amazon Chime rejected the request", m, hint=h), message, hint)
    check(lambda n: help_card(ENTRIES, note=n or None, footer="Fixed words."), message)


@FAST
@given(st.lists(hostile_long, min_size=10, max_size=10), st.sampled_from(["1234", "set", None]))
def test_user_card(values: list[str], pin: str | None) -> None:
    def build(*v: str) -> Reply:
        user = ChimeUser(
            user_id=v[0],
            email=v[1],
            display_name=v[2],
            license_type=v[3],
            user_type=v[4],
            registration_status=v[5],
            invitation_status=v[6],
            pin_hint=pin,
            registered_on=datetime(2024, 1, 16, tzinfo=UTC),
            invited_on=None,
            has_phone_number=True,
        )
        return user_card(UserRecord(Account(v[7], v[8], v[9]), user))

    check(build, *values)


def test_the_issues_reason_is_one_plain_line_inside_its_quote() -> None:
    reason = "fine\n*Approved* by …\n:white_check_mark: done https://evil.example/login"
    request = InviteRequest(
        id="REQ-ABCDEFGHIJ",
        email="victim@example.com",
        user_type="PrivateUser",
        reason=reason,
        account_id="c0a1",
        account_name="Example Corp",
        account_type="EnterpriseLWA",
        requester="U0REQUESTER",
        origin_channel="C0DEMOCHAN",
        created_at=EPOCH,
        expires_at=EPOCH + 86400,
    )
    message = approval_card(request).as_message()
    check(approval_card, request)
    quoted = [t for t in plain_strings(message) if "Approved" in t]
    assert quoted == [
        "“fine *Approved* by … :white_check_mark: done https:\u2060//evil.example/login”"
    ]
    assert "Approved" not in str([b for b in message["blocks"] if b["type"] != "section"])
    approved = replace(request, status=Status.APPROVED, decided_by="U0APPROVER", result={})
    check(approval_card, approved)


def test_long_email_in_long_account_fits_the_confirm_dialog() -> None:
    email = "a" * 180 + "." + "b" * 7 + "@" + "c" * 4 + ".example.com"
    assert len(email) == 205
    request = InviteRequest(
        id="REQ-ABCDEFGHIJ",
        email=email,
        user_type="PrivateUser",
        reason="",
        account_id="c0a1",
        account_name="N" * 100,
        account_type="EnterpriseLWA",
        requester="U0REQUESTER",
        origin_channel="C0DEMOCHAN",
        created_at=EPOCH,
        expires_at=EPOCH + 86400,
    )
    message = approval_card(request).as_message()
    check(approval_card, request)
    confirm = message["blocks"][-1]["elements"][0]["confirm"]["text"]["text"]
    assert len(confirm) <= 300 and confirm.startswith("This will create aaa")
    # Both shortened in the middle, so the domain and the account's ends stay readable.
    assert re.fullmatch(
        r"This will create a+…a+\.b{7}@cccc\.example\.com in N+…N+, once\.", confirm
    )
    assert email in plain_strings(message), "the card itself shows the address in full"


@pytest.mark.parametrize("marker", ["*", "_", "~", "`", "a_"])
def test_fallback_text_is_cut_within_slacks_limit_without_freeing_a_marker(marker: str) -> None:
    for extra in range(-3, 4):
        text = literal("x" * (3995 + extra) + marker * 10)
        message = {"text": Reply(text=f"{text}", blocks=[]).text, "blocks": []}
        assert len(message["text"]) <= 4000
        assert not literal_problems(message), message["text"][-10:]


@given(st.one_of(hostile, st.text()))
@example("://")  # no scheme before it: found by Hypothesis, always tried since
def test_clean_gives_one_line_of_printable_text(text: str) -> None:
    line = clean(text)
    assert line == line.strip() and "  " not in line
    for char in line:
        assert char == WORD_JOINER or unicodedata.category(char) not in (
            "Cc", "Cf", "Cs", "Zl", "Zp",
        ), repr(char)  # fmt: skip
    assert "://" not in line
    assert clean(line) == line, "cleaning twice changes nothing"
