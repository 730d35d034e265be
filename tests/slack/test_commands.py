"""Parsing `/chime` text exactly as Slack sends it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import UserType
from bot.slack.commands import (
    MAX_ACCOUNT_LENGTH,
    MAX_REASON_LENGTH,
    Help,
    Invalid,
    Invite,
    InviteForm,
    LookupUser,
    Pending,
    parse,
)
from bot.slack.text import MAX_EMAIL_LENGTH, hidden_characters, parse_email

CHIME_EMAIL = re.compile(r".+@.+\..+")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM ", "ada@example.com"),
        ("<mailto:ada@example.com|ada@example.com>", "ada@example.com"),
        ("<mailto:ada@example.com>", "ada@example.com"),
        ("<MAILTO:Ada@Example.com|Ada@Example.com>", "ada@example.com"),
        ("o&amp;connor@example.ie", "o&connor@example.ie"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ],
)
def test_emails_slack_sends_are_understood(token: str, expected: str) -> None:
    assert parse_email(token) == expected


@pytest.mark.parametrize(
    "token",
    [
        "not-an-email",
        "a@b",
        "@example.com",
        "ada@",
        "ada@@example.com",
        "<@U012AB>",
        "<!channel>",
        "<http://x.example|ada@example.com>",
        "&lt;ada@example.com&gt;",
        "ada@example.com|x",
        "ada@exam\tple.com",
        "ada@example.",
        "ada@.com",
        "a" * 250 + "@x.io",
    ],
)
def test_non_emails_are_rejected(token: str) -> None:
    assert parse_email(token) is None


def test_subcommands() -> None:
    assert parse("") == Help()
    assert parse("   ") == Help()
    assert parse("help") == Help()
    assert parse("whatever") == Help(unknown="whatever")
    assert parse("user ada@example.com") == LookupUser("ada@example.com")
    assert parse("pending") == Pending()
    assert isinstance(parse("pending now"), Invalid)


def test_invite_options_and_reason() -> None:
    cmd = parse(
        'invite <mailto:ada@example.com|ada@example.com> --account "Example Corp" '
        "--type shareddevice lobby screen &amp; more"
    )
    assert cmd == Invite(
        "ada@example.com", "Example Corp", UserType.SHARED_DEVICE, "lobby screen & more"
    )
    assert parse("invite ada@example.com") == Invite("ada@example.com", None, UserType.PRIVATE, "")
    assert parse("invite ada@example.com --account=Labs hi").account == "Labs"  # type: ignore[union-attr]
    smart = parse("invite ada@example.com --account “Example Corp” x")
    assert smart.account == "Example Corp"  # type: ignore[union-attr]


def test_invite_alone_opens_the_form() -> None:
    assert parse("invite") == parse("  invite  ") == InviteForm()


@pytest.mark.parametrize(
    "text",
    [
        "invite nope",
        "invite ada@example.com --type Robot",
        "invite ada@example.com --account",
        "invite ada@example.com --force",
    ],
)
def test_bad_invites_explain_usage(text: str) -> None:
    cmd = parse(text)
    assert isinstance(cmd, Invalid)
    assert cmd.usage.startswith("/chime invite")


slack_like = st.one_of(
    st.text(max_size=80),
    st.builds(lambda a, b: f"user {a}@{b}", st.text(max_size=20), st.text(max_size=20)),
    st.builds(lambda a: f"user <mailto:{a}|{a}>", st.text(max_size=30)),
    st.builds(lambda a: f"invite {a}", st.text(max_size=60)),
    st.sampled_from(["user <!channel>", "user <@U123|bob>", "user &lt;x@y.z&gt;"]),
)


@given(slack_like)
def test_parse_never_raises_and_only_valid_emails_get_through(text: str) -> None:
    cmd = parse(text)
    email = getattr(cmd, "email", None)
    if email is not None:
        assert CHIME_EMAIL.fullmatch(email)
        assert not re.search(r"[\s<>|]", email)
        assert email == email.lower()


invites = st.builds(
    lambda e, a, r: f'invite {e} --account "{a}" {r}',
    st.text(min_size=1, max_size=300).map(lambda s: s.replace(" ", "") + "@ex.com"),
    st.text(max_size=120),
    st.text(max_size=600),
)


@given(st.one_of(slack_like, invites))
def test_what_the_parser_accepts_is_what_an_approver_reads(text: str) -> None:
    """Accepted arguments hold no character a reader cannot see, and are within their limits."""
    cmd = parse(text)
    if isinstance(cmd, LookupUser | Invite):
        assert not hidden_characters(cmd.email) and len(cmd.email) <= MAX_EMAIL_LENGTH
    if isinstance(cmd, Invite):
        assert len(cmd.reason) <= MAX_REASON_LENGTH
        assert not hidden_characters(cmd.reason.replace(" ", ""))
        assert "\n" not in cmd.reason and "  " not in cmd.reason
        if cmd.account is not None:
            assert len(cmd.account) <= MAX_ACCOUNT_LENGTH and not hidden_characters(cmd.account)
    if isinstance(cmd, Invalid):
        assert cmd.problem and len(cmd.problem) < 1000, "a short, clear reply"


# --- bulk invites ---------------------------------------------------------------------------


def test_bulk_invite_takes_spaces_commas_and_slack_mailto_links_and_collapses_duplicates() -> None:
    cmd = parse(
        "invite a@x.com, <mailto:B@Y.com|B@Y.com>,<mailto:c@z.org|c@z.org> d@x.com;e@x.com "
        "A@X.COM , --account Labs new team &lt;b&gt; from b@y.com"
    )
    assert isinstance(cmd, Invite)
    assert cmd.emails == ("a@x.com", "b@y.com", "c@z.org", "d@x.com", "e@x.com")
    assert cmd.email == "a@x.com" and cmd.all_emails == cmd.emails
    assert cmd.account == "Labs"
    # The list ends at the first word that is not an address; a later address is the reason's.
    assert cmd.reason == "new team <b> from b@y.com"


def test_an_ampersand_slack_escaped_in_an_address_is_not_a_separator() -> None:
    cmd = parse("invite x&amp;y@example.com;b@example.com")
    assert isinstance(cmd, Invite) and cmd.emails == ("x&y@example.com", "b@example.com")


def test_one_address_stays_a_single_invite_and_a_mention_ends_the_list() -> None:
    cmd = parse("invite ada@example.com, ADA@example.com <@U123|someone> asked")
    assert cmd == Invite("ada@example.com", None, UserType.PRIVATE, "@someone asked")
    assert cmd.all_emails == ("ada@example.com",)


def test_fifty_addresses_are_one_request_and_fifty_one_are_refused() -> None:
    fifty = " ".join(f"u{i}@example.com" for i in range(50))
    cmd = parse(f"invite {fifty} u0@example.com")  # a duplicate does not count twice
    assert isinstance(cmd, Invite) and len(cmd.emails) == 50
    refused = parse(f"invite {fifty} u50@example.com")
    assert isinstance(refused, Invalid)
    assert "51 different addresses" in refused.problem and "at most 50" in refused.problem
    assert "Nothing was filed" in refused.problem


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("invite a@x.com b@y", "Address 2 of 2: “b@y” is not an email address"),
        ("invite a@x.com,b\u200b@y.com", "Address 2 of 2: “b⟨U+200B⟩@y.com” contains U+200B"),
        ("invite a@x.com <mailto:x|b@@y.com> c@z.com", "Address 2 of 3: “x” is not"),
        ("invite a@x.com @y.com", "Address 2 of 2: “@y.com” is not an email address"),
    ],
)
def test_a_bad_address_in_a_list_is_named_and_nothing_is_filed(text: str, named: str) -> None:
    cmd = parse(text)
    assert isinstance(cmd, Invalid)
    assert named in cmd.problem and "Nothing was filed" in cmd.problem


@given(st.lists(st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.com", fullmatch=True), max_size=60))
def test_any_list_of_addresses_parses_to_its_distinct_addresses(emails: list[str]) -> None:
    if not emails:
        return
    cmd = parse("invite " + ", ".join(emails) + " because")
    distinct = list(dict.fromkeys(emails))
    if len(distinct) > 50:
        assert isinstance(cmd, Invalid)
    else:
        assert isinstance(cmd, Invite) and cmd.all_emails == tuple(distinct)
        assert cmd.reason == "because"
