"""Block Kit rendering: valid for Slack, escaped, and never showing a PIN."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.cards.base import escape, help_card, not_found_card, user_card
from bot.cards.errors import error_reply, reply_for
from bot.errors import ChimePermissionDenied, ChimeUnavailable, InvalidInput
from bot.models import Account, ChimeUser, UserRecord
from handlers.help import CHANGES, ENTRIES
from tests.blockkit import all_text, assert_valid_message, unescaped_angle_brackets


def record(
    name: str = "Ada",
    email: str = "ada@example.com",
    pin: str = "4839201756",
    account_name: str = "Example Corp",
) -> UserRecord:
    user = ChimeUser.from_api(
        {
            "UserId": "u-1",
            "PrimaryEmail": email,
            "DisplayName": name,
            "LicenseType": "Pro",
            "UserType": "PrivateUser",
            "UserRegistrationStatus": "Registered",
            "UserInvitationStatus": "Accepted",
            "PersonalPIN": pin,
            "RegisteredOn": datetime(2024, 1, 16, 10, 0, tzinfo=UTC),
            "InvitedOn": None,
            "PrimaryProvisionedNumber": "+12065550100",
        }
    )
    return UserRecord(Account("acc-1", account_name, "EnterpriseLWA"), user)


def test_escape_handles_slack_control_characters() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("&amp;") == "&amp;amp;"


def test_user_card_is_valid_and_shows_dates_with_fallback() -> None:
    card = user_card(record()).as_message()
    assert_valid_message(card)
    text = all_text(card)
    assert "<!date^1705399200^{date_short_pretty} {time}|2024-01-16 10:00 UTC>" in text
    assert "provisioned" in text


def test_pin_only_its_last_two_digits() -> None:
    text = str(user_card(record(pin="4839201756")).as_message())
    assert "4839201756" not in text and "48392017" not in text
    assert "••••••••56" in text
    short = str(user_card(record(pin="1234")).as_message())
    assert "1234" not in short and "set (hidden)" in short


def test_every_card_type_is_valid_block_kit() -> None:
    cards = [
        user_card(record()),
        not_found_card("x@example.com"),
        help_card(ENTRIES, note="unknown", footer="f", groups=[CHANGES]),
        error_reply(InvalidInput("bad", hint="usage")),
        error_reply(ChimePermissionDenied("ListUsers", "denied", code="ForbiddenException")),
        error_reply(ChimeUnavailable("GetUser", "down", code="ServiceUnavailableException")),
        reply_for(RuntimeError("boom"), __import__("logging").getLogger("t")),
    ]
    for card in cards:
        assert_valid_message(card.as_message())


def test_unexpected_errors_get_an_id_that_is_logged(caplog) -> None:  # type: ignore[no-untyped-def]
    card = reply_for(RuntimeError("secret internals"), __import__("logging").getLogger("t"))
    text = all_text(card.as_message())
    assert "secret internals" not in text
    error_id = text.split("Error ID `")[1].split("`")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


@given(st.text(max_size=200), st.text(max_size=100), st.text(max_size=60))
def test_no_chime_data_can_produce_markup(name: str, email: str, account: str) -> None:
    for card in (
        user_card(record(name=name, email=email, account_name=account)),
        not_found_card(email),
    ):
        message = card.as_message()
        assert not unescaped_angle_brackets(message)
        assert_valid_message(message)
