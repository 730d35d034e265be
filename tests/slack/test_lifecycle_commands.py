"""Parsing the user lifecycle's `/chime` commands (issue 21) exactly as Slack sends them:
suspend, unsuspend, logout, reset-pin, license, access, and invite's `--for`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.commands import (
    MAX_REASON_LENGTH,
    SYNTAX,
    Access,
    Invalid,
    Invite,
    License,
    LicenseType,
    Logout,
    ResetPin,
    Suspend,
    Unsuspend,
    parse,
)
from bot.slack.text import MAX_EMAIL_LENGTH, hidden_characters

FIFTY = " ".join(f"u{i}@example.com" for i in range(50))


def invalid(text: str) -> Invalid:
    cmd = parse(text)
    assert isinstance(cmd, Invalid), cmd
    assert cmd.usage.startswith(f"/chime {cmd.subcommand} ")
    return cmd


# --- suspend and unsuspend: a list, like a bulk invite ---------------------------------------


@pytest.mark.parametrize(("sub", "made"), [("suspend", Suspend), ("unsuspend", Unsuspend)])
def test_suspend_lists_take_slack_mailto_links_entities_and_separators(
    sub: str, made: type[Suspend | Unsuspend]
) -> None:
    cmd = parse(
        f"{sub} a@x.com, <mailto:B@Y.com|B@Y.com>;<mailto:c@z.org|c@z.org> x&amp;y@x.com "
        "A@X.COM left the &lt;team&gt; per b@y.com"
    )
    assert cmd == made(
        ("a@x.com", "b@y.com", "c@z.org", "x&y@x.com"), "left the <team> per b@y.com"
    )
    assert parse(f"{sub.upper()} <mailto:Ada@Example.com|Ada@Example.com>") == made(
        ("ada@example.com",), ""
    )


@pytest.mark.parametrize(
    ("sub", "call"), [("suspend", "BatchSuspendUser"), ("unsuspend", "BatchUnsuspendUser")]
)
def test_fifty_distinct_addresses_are_one_request_and_fifty_one_are_refused(
    sub: str, call: str
) -> None:
    cmd = parse(f"{sub} {FIFTY} U0@example.com, u1@EXAMPLE.com")  # duplicates count once
    assert isinstance(cmd, Suspend | Unsuspend) and len(cmd.emails) == 50
    assert cmd.emails[0] == "u0@example.com" and cmd.emails[-1] == "u49@example.com"
    refused = invalid(f"{sub} {FIFTY} u50@example.com")
    assert refused.problem == (
        f"That is 51 different addresses; Amazon Chime's {call} takes at most 50 users in one "
        "call. Split the list. Nothing was filed."
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("suspend", "Give an email address."),
        ("unsuspend please", "“please” is not an email address."),
        ("suspend <@U123|bob> left", "“@bob” is not an email address."),
        (
            "suspend a@x.com,b\u200b@y.com",
            "Address 2 of 2: “b⟨U+200B⟩@y.com” contains U+200B ZERO WIDTH SPACE, which cannot "
            "be seen, so the address you read would not be the one created. Type the address "
            "again. Nothing was filed.",
        ),
        (
            "unsuspend a@x.com <mailto:x|b@@y.com> c@z.com",
            "Address 2 of 3: “x” is not an email address. Nothing was filed.",
        ),
        ("suspend a@x.com --force", "Unknown option “--force”."),
        ("unsuspend a@x.com --account=Labs back", "Unknown option “--account=Labs”."),
    ],
)
def test_bad_suspends_say_what_is_wrong(text: str, problem: str) -> None:
    assert invalid(text).problem == problem


# --- logout, reset-pin: exactly one address --------------------------------------------------


def test_logout_takes_one_address_and_a_reason() -> None:
    assert parse("logout <mailto:Ada@Example.com|Ada@Example.com> lost &amp; found") == Logout(
        "ada@example.com", "lost & found"
    )
    # The same address twice is still one address.
    assert parse("logout ada@example.com, ADA@example.com") == Logout("ada@example.com", "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("logout", "Give an email address."),
        (
            "logout a@x.com b@y.com",
            "Give one email address: Amazon Chime's LogoutUser signs out one user. "
            "Nothing was filed.",
        ),
        ("logout a@x.com --all", "Unknown option “--all”."),
        ("logout &lt;a@x.com&gt;", "“<a@x.com>” is not an email address."),
    ],
)
def test_bad_logouts_say_what_is_wrong(text: str, problem: str) -> None:
    assert invalid(text).problem == problem


@pytest.mark.parametrize("sub", ["reset-pin", "reset_pin", "resetpin", "Reset-PIN"])
def test_reset_pin_takes_one_address_under_any_of_its_spellings(sub: str) -> None:
    assert parse(f"{sub} <mailto:Ada@Example.com|Ada@Example.com>") == ResetPin("ada@example.com")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("reset-pin", "Give an email address."),
        (
            "reset-pin a@x.com b@y.com",
            "Give one email address: Amazon Chime's ResetPersonalPIN resets one user's PIN. "
            "Nothing was filed.",
        ),
        ("reset_pin a@x.com please", "reset-pin takes one email address and nothing after it."),
        ("resetpin a@x.com --now", "reset-pin takes one email address and nothing after it."),
        ("reset-pin a\u202e@x.com", "“a⟨U+202E⟩@x.com” contains U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_bad_reset_pins_say_what_is_wrong(text: str, problem: str) -> None:
    cmd = invalid(text)
    assert cmd.problem.startswith(problem) and cmd.subcommand == "reset-pin"


# --- license ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "chime"),
    [("Basic", "Basic"), ("plus", "Plus"), ("PRO", "Pro"), ("protrial", "ProTrial")],
)
def test_license_is_matched_in_any_case_and_said_as_chime_spells_it(
    typed: str, chime: LicenseType
) -> None:
    cmd = parse(f"license <mailto:Ada@Example.com|Ada@Example.com> {typed} new &lt;role&gt;")
    assert cmd == License("ada@example.com", chime, "new <role>")
    assert parse(f"license ada@example.com {typed}") == License("ada@example.com", chime, "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("license", "Give an email address."),
        ("license ada@example.com", "Give the license: Basic, Plus, Pro or ProTrial."),
        ("license ada@example.com Gold", "“Gold” is not a license: Basic, Plus, Pro or ProTrial."),
        (
            "license ada@example.com Pro\u200b",
            "“Pro⟨U+200B⟩” is not a license: Basic, Plus, Pro or ProTrial.",
        ),
        (
            "license ada@example.com &lt;Pro&gt;",
            "“<Pro>” is not a license: Basic, Plus, Pro or ProTrial.",
        ),
        (
            "license a@x.com b@y.com Pro",
            "Give one email address: Amazon Chime's UpdateUser changes one user's license. "
            "Nothing was filed.",
        ),
        ("license ada@example.com --type Pro", "Unknown option “--type”."),
        ("license ada@example.com Pro --force", "Unknown option “--force”."),
    ],
)
def test_bad_licenses_say_what_is_wrong(text: str, problem: str) -> None:
    assert invalid(text).problem == problem


# --- access ----------------------------------------------------------------------------------


def test_access_takes_no_arguments() -> None:
    assert parse("access") == parse(" ACCESS ") == Access()
    assert invalid("access ada@example.com").problem == "access takes no arguments."


# --- reasons: the same rules as invite's ------------------------------------------------------

LIFECYCLE = [
    "suspend a@x.com",
    "unsuspend a@x.com",
    "logout a@x.com",
    "license a@x.com Pro",
]


@pytest.mark.parametrize("head", LIFECYCLE)
def test_a_reason_cannot_forge_formatting_or_hide_characters(head: str) -> None:
    cmd = parse(
        f"{head} fine\n*Approved* by <@U0BOSS|boss> in <#C0GEN|general> <!here> "
        "<https://evil.example/login|click>\u200b\u202e\tnow"
    )
    assert isinstance(cmd, Suspend | Unsuspend | Logout | License)
    assert cmd.reason == "fine *Approved* by @boss in #general @here click now"


@pytest.mark.parametrize("head", LIFECYCLE)
def test_a_reason_past_the_limit_is_refused(head: str) -> None:
    longest = parse(f"{head} " + "x" * MAX_REASON_LENGTH)
    assert isinstance(longest, Suspend | Unsuspend | Logout | License)
    cmd = invalid(f"{head} " + "why " * 126)
    assert cmd.problem == "The reason has 503 characters; keep it to 500."


# --- invite --for ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "seconds"),
    [
        ("--for 8h", 8 * 3600),
        ("--for=2w", 14 * 86_400),
        ("--for 1h", 3600),
        ('--for "1H 30m"', 5400),
        ("--for 365d", 365 * 86_400),
    ],
)
def test_invite_for_a_while_is_stored_in_seconds(option: str, seconds: int) -> None:
    cmd = parse(f"invite ada@example.com {option} --account Labs contractor")
    assert isinstance(cmd, Invite)
    assert (cmd.access_for, cmd.account, cmd.reason) == (seconds, "Labs", "contractor")
    bulk = parse(f"invite a@x.com b@x.com {option}")
    assert isinstance(bulk, Invite) and bulk.access_for == seconds
    assert bulk.emails == ("a@x.com", "b@x.com")


def test_an_invite_without_for_lasts_until_removed() -> None:
    cmd = parse("invite ada@example.com for 8h")  # without the dashes it is the reason
    assert isinstance(cmd, Invite) and cmd.access_for is None and cmd.reason == "for 8h"


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("--for 0h", "Access must last at least 1 hour; “0h” is shorter."),
        ("--for 30m", "Access must last at least 1 hour; “30m” is shorter."),
        ("--for=59m 59s", "Access must last at least 1 hour; “59m” is shorter."),
        ("--for forever", "“forever” is not a duration like 8h, 30d or 2w."),
        ("--for 8", "“8” is not a duration like 8h, 30d or 2w."),
        ("--for 8h\u200b", "“8h⟨U+200B⟩” is not a duration like 8h, 30d or 2w."),
        ("--for", "--for needs a value."),
        ("--for 366d", "Access can last at most 365 days; “366d” is longer."),
        ("--for 999999999999w", "Access can last at most 365 days; “999999999999w” is longer."),
    ],
)
def test_bad_durations_are_refused_in_plain_words(option: str, problem: str) -> None:
    assert invalid(f"invite ada@example.com {option}").problem == problem


# --- every subcommand, together ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "made"),
    [
        ("suspend", Suspend),
        ("unsuspend", Unsuspend),
        ("logout", Logout),
        ("reset-pin", ResetPin),
        ("license", License),
        ("access", Access),
    ],
)
def test_each_subcommand_has_a_usage_line_whose_example_parses(sub: str, made: type) -> None:
    usage, example = SYNTAX[sub]
    assert usage.startswith(f"/chime {sub}") and example.startswith(f"/chime {sub}")
    assert isinstance(parse(example.removeprefix("/chime ")), made)


lifecycle_text = st.builds(
    lambda sub, rest: f"{sub} {rest}",
    st.sampled_from(["suspend", "unsuspend", "logout", "reset-pin", "license", "access"]),
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda a, b: f"{a}@{b}.com {b}", st.text(max_size=20), st.text(max_size=600)),
        st.builds(lambda a: f"<mailto:{a}|{a}> Pro", st.text(max_size=30)),
    ),
)


@given(lifecycle_text)
def test_what_the_parser_accepts_is_what_an_approver_reads(text: str) -> None:
    cmd = parse(text)
    emails = getattr(cmd, "emails", None) or (getattr(cmd, "email", None),)
    for email in filter(None, emails):
        assert not hidden_characters(email) and len(email) <= MAX_EMAIL_LENGTH
        assert email == email.lower() and "@" in email
    reason = getattr(cmd, "reason", "")
    assert len(reason) <= MAX_REASON_LENGTH and "\n" not in reason
    assert not hidden_characters(reason.replace(" ", ""))
    if isinstance(cmd, Suspend | Unsuspend):
        assert 1 <= len(cmd.emails) <= 50 and len(set(cmd.emails)) == len(cmd.emails)
    if isinstance(cmd, License):
        assert cmd.license_type in ("Basic", "Plus", "Pro", "ProTrial")
    if isinstance(cmd, Invalid):
        assert cmd.problem and len(cmd.problem) < 1000
