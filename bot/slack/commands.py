"""Turn `/chime` text, exactly as Slack sends it, into typed commands: the grammar of every
subcommand. How Slack's text is read (markup, entities, hidden characters, addresses) is
bot/slack/text.py.

It is one piece because it is one grammar: the subcommands share their rules for addresses,
options and reasons, and the wording of their refusals, and each type sits beside its syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.durations import NotADuration, parse_duration
from bot.models import UserType
from bot.slack.text import (
    clean_reason,
    command_words,
    email_problem,
    hidden_characters,
    leading_addresses,
    readable,
    unescape,
    visible,
)

# Every argument has a limit: an address as SMTP allows it (bot/slack/text.py), an account name
# as Chime allows it (the service model's AccountName: 1-100), a reason short enough for a card.
MAX_ACCOUNT_LENGTH = 100
MAX_REASON_LENGTH = 500
# One bulk invite is at most one InviteUsers call: botocore's Chime model (chime/2018-05-01/
# service-2.json) gives UserEmailList "max": 50. Enterprise accounts (CreateUser per email) get
# the same limit, so one command means the same thing on every account.
MAX_EMAILS = 50
# How long an invite's `--for` may grant access. Under an hour the access could lapse before
# anyone has used it (approval alone can take that long); past a year it is no longer temporary,
# and an invite without `--for` is the lasting one.
MIN_ACCESS_FOR = 3600
MAX_ACCESS_FOR = 365 * 86_400
# The same model's License enum, as Chime spells it: what UpdateUser's LicenseType accepts.
LicenseType = Literal["Basic", "Plus", "Pro", "ProTrial"]
LICENSES: tuple[LicenseType, ...] = ("Basic", "Plus", "Pro", "ProTrial")


@dataclass(frozen=True, slots=True)
class Help:
    unknown: str | None = None  # the subcommand we did not recognise, if that is why


@dataclass(frozen=True, slots=True)
class LookupUser:
    email: str


@dataclass(frozen=True, slots=True)
class Invite:
    email: str
    account: str | None
    user_type: UserType
    reason: str
    # Every address, in the order given, duplicates collapsed, when more than one was given (a
    # bulk invite); empty for a single one, which is `email`.
    emails: tuple[str, ...] = ()
    # `account` is an account ID the bot offered (the request form), matched as an ID only; a
    # typed `--account` may be a name or an ID.
    account_is_id: bool = False
    # `--for`: how long the access lasts, in seconds (MIN_ACCESS_FOR to MAX_ACCESS_FOR); None
    # for an invite that lasts until someone removes the user.
    access_for: int | None = None

    @property
    def all_emails(self) -> tuple[str, ...]:
        return self.emails or (self.email,)


@dataclass(frozen=True, slots=True)
class InviteForm:
    """`/chime invite` alone: open the request form (a modal) instead."""


@dataclass(frozen=True, slots=True)
class Pending:
    pass


@dataclass(frozen=True, slots=True)
class Suspend:
    """Sign users out and keep them out (BatchSuspendUser): every address in the order given,
    duplicates collapsed, 1 to MAX_EMAILS of them."""

    emails: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Unsuspend:
    """Let suspended users sign in again (BatchUnsuspendUser), addresses as for Suspend."""

    emails: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Logout:
    """Sign one user out of every device (LogoutUser)."""

    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class ResetPin:
    """Give one user a new meeting PIN (ResetPersonalPIN)."""

    email: str


@dataclass(frozen=True, slots=True)
class License:
    """Change one user's license (UpdateUser's LicenseType)."""

    email: str
    license_type: LicenseType
    reason: str


@dataclass(frozen=True, slots=True)
class Access:
    """`/chime access`, which takes no arguments."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """Text we understood well enough to say precisely what is wrong with it."""

    subcommand: str
    problem: str
    usage: str


Command = (
    Help
    | LookupUser
    | Invite
    | InviteForm
    | Pending
    | Suspend
    | Unsuspend
    | Logout
    | ResetPin
    | License
    | Access
    | Invalid
)

# Each subcommand's syntax and an example, for error replies and for the help card.
SYNTAX: dict[str, tuple[str, str]] = {
    "user": ("/chime user <email>", "/chime user ada@example.com"),
    "invite": (
        "/chime invite <email> [<email> …] [--account <name>] "
        "[--type PrivateUser|SharedDevice] [--for <duration>] [reason]",
        '/chime invite ada@example.com --account "Example Corp" new hire',
    ),
    "pending": ("/chime pending", "/chime pending"),
    "suspend": (
        "/chime suspend <email> [<email> …] [reason]",
        "/chime suspend ada@example.com left the company",
    ),
    "unsuspend": (
        "/chime unsuspend <email> [<email> …] [reason]",
        "/chime unsuspend ada@example.com back from leave",
    ),
    "logout": ("/chime logout <email> [reason]", "/chime logout ada@example.com lost laptop"),
    "reset-pin": ("/chime reset-pin <email>", "/chime reset-pin ada@example.com"),
    "license": (
        "/chime license <email> Basic|Plus|Pro|ProTrial [reason]",
        "/chime license ada@example.com Pro hosts large meetings",
    ),
    "access": ("/chime access", "/chime access"),
}
USAGE = {name: f"{usage}   e.g. {example}" for name, (usage, example) in SYNTAX.items()}


def parse(text: str) -> Command:
    tokens = command_words(text or "")
    if not tokens:
        return Help()
    sub = unescape(tokens[0]).lower()
    args = tokens[1:]
    if sub in ("help", "-h", "--help", "?"):
        return Help()
    if sub == "user":
        return _parse_user(args)
    if sub == "invite":
        return _parse_invite(args)
    if sub == "pending":
        return _no_arguments("pending", args, Pending())
    if sub in ("suspend", "unsuspend"):
        return _parse_suspend(sub, args)
    if sub == "logout":
        return _parse_logout(args)
    if sub in ("reset-pin", "reset_pin", "resetpin"):
        return _parse_reset_pin(args)
    if sub == "license":
        return _parse_license(args)
    if sub == "access":
        return _no_arguments("access", args, Access())
    return Help(unknown=unescape(tokens[0])[:40])


def _parse_user(args: list[str]) -> Command:
    if len(args) != 1:
        problem = "Give exactly one email address." if args else "Give an email address."
        return Invalid("user", problem, USAGE["user"])
    email, problem = email_problem(args[0])
    if email is None:
        return Invalid("user", problem, USAGE["user"])
    return LookupUser(email)


def _parse_invite(args: list[str]) -> Command:
    if not args:
        return InviteForm()
    found = _addresses("invite", args)
    if isinstance(found, Invalid):
        return found
    emails, after = found
    if len(emails) > MAX_EMAILS:
        return _too_many("invite", emails)
    account: str | None = None
    user_type = UserType.PRIVATE
    access_for: int | None = None
    reason: list[str] = []
    rest = iter(args[after:])
    for raw in rest:
        word = unescape(raw)
        flag, _, inline = word.partition("=")
        if flag in ("--account", "--type", "--for"):
            value = inline or unescape(next(rest, "")).strip()
            if not value:
                return Invalid("invite", f"{flag} needs a value.", USAGE["invite"])
            if flag == "--account":
                refused = _account_problem(value)
                if refused:
                    return Invalid("invite", refused, USAGE["invite"])
                account = value
            elif flag == "--for":
                seconds, refused = _access_for(value)
                if seconds is None:
                    return Invalid("invite", refused, USAGE["invite"])
                access_for = seconds
            else:
                matched = _user_type(value)
                if matched is None:
                    return Invalid(
                        "invite", "--type must be PrivateUser or SharedDevice.", USAGE["invite"]
                    )
                user_type = matched
        elif word.startswith("--"):
            return _unknown_option("invite", word)
        else:
            reason.append(raw)
    text = _reason("invite", reason)
    if isinstance(text, Invalid):
        return text
    return Invite(
        email=emails[0],
        account=account,
        user_type=user_type,
        reason=text,
        emails=tuple(emails) if len(emails) > 1 else (),
        access_for=access_for,
    )


def _no_arguments(sub: str, args: list[str], command: Command) -> Command:
    return command if not args else Invalid(sub, f"{sub} takes no arguments.", USAGE[sub])


def _parse_suspend(sub: str, args: list[str]) -> Command:
    found = _addresses(sub, args)
    if isinstance(found, Invalid):
        return found
    emails, after = found
    if len(emails) > MAX_EMAILS:
        return _too_many(sub, emails)
    reason = _plain_reason(sub, args[after:])
    if isinstance(reason, Invalid):
        return reason
    made = Suspend if sub == "suspend" else Unsuspend
    return made(tuple(emails), reason)


def _parse_logout(args: list[str]) -> Command:
    found = _one_address("logout", args)
    if isinstance(found, Invalid):
        return found
    email, after = found
    reason = _plain_reason("logout", args[after:])
    return reason if isinstance(reason, Invalid) else Logout(email, reason)


def _parse_reset_pin(args: list[str]) -> Command:
    found = _one_address("reset-pin", args)
    if isinstance(found, Invalid):
        return found
    email, after = found
    if args[after:]:
        # reset-pin takes no reason: a word after the address is refused, never dropped.
        return Invalid(
            "reset-pin",
            "reset-pin takes one email address and nothing after it.",
            USAGE["reset-pin"],
        )
    return ResetPin(email)


def _parse_license(args: list[str]) -> Command:
    found = _one_address("license", args)
    if isinstance(found, Invalid):
        return found
    email, after = found
    rest = args[after:]
    choices = f"{', '.join(LICENSES[:-1])} or {LICENSES[-1]}"
    if not rest:
        return Invalid("license", f"Give the license: {choices}.", USAGE["license"])
    word = unescape(rest[0])
    if word.startswith("--"):
        return _unknown_option("license", word)
    license_type = next((name for name in LICENSES if name.lower() == word.lower()), None)
    if license_type is None:
        return Invalid(
            "license",
            f"“{visible(readable(rest[0]), 40)}” is not a license: {choices}.",
            USAGE["license"],
        )
    reason = _plain_reason("license", rest[1:])
    return reason if isinstance(reason, Invalid) else License(email, license_type, reason)


# Why one request takes at most MAX_EMAILS addresses, or only one, in the words of the Chime call
# that limits it.
_AT_MOST = {
    "invite": f"one request can invite at most {MAX_EMAILS} (Amazon Chime's limit for one "
    "invitation call)",
    "suspend": f"Amazon Chime's BatchSuspendUser takes at most {MAX_EMAILS} users in one call",
    "unsuspend": f"Amazon Chime's BatchUnsuspendUser takes at most {MAX_EMAILS} users in one call",
}
_ONLY_ONE = {
    "logout": "Amazon Chime's LogoutUser signs out one user",
    "reset-pin": "Amazon Chime's ResetPersonalPIN resets one user's PIN",
    "license": "Amazon Chime's UpdateUser changes one user's license",
}


def _addresses(sub: str, args: list[str]) -> tuple[list[str], int] | Invalid:
    """The distinct addresses at the start of `args` (at least its first word), lower-cased in
    the order given, and how many of `args` they took; or what is wrong with the first bad one."""
    if not args:
        return Invalid(sub, "Give an email address.", USAGE[sub])
    listed, after = leading_addresses(args)
    if not listed:  # the first word is no address at all: say what is wrong with it
        listed, after = [args[0]], 1
    emails: list[str] = []
    for position, token in enumerate(listed, start=1):
        email, problem = email_problem(token)
        if email is None:
            if len(listed) > 1:
                problem = f"Address {position} of {len(listed)}: {problem}{_NOTHING_FILED}"
            return Invalid(sub, problem, USAGE[sub])
        if email not in emails:
            emails.append(email)
    return emails, after


def _too_many(sub: str, emails: list[str]) -> Invalid:
    return Invalid(
        sub,
        f"That is {len(emails)} different addresses; {_AT_MOST[sub]}. Split the list."
        + _NOTHING_FILED,
        USAGE[sub],
    )


def _one_address(sub: str, args: list[str]) -> tuple[str, int] | Invalid:
    """The one address at the start of `args` (given twice is still once) and how many of
    `args` it took."""
    found = _addresses(sub, args)
    if isinstance(found, Invalid):
        return found
    emails, after = found
    if len(emails) > 1:
        return Invalid(
            sub, f"Give one email address: {_ONLY_ONE[sub]}.{_NOTHING_FILED}", USAGE[sub]
        )
    return emails[0], after


def _unknown_option(sub: str, word: str) -> Invalid:
    return Invalid(sub, f"Unknown option “{visible(word, 40)}”.", USAGE[sub])


def _plain_reason(sub: str, words: list[str]) -> str | Invalid:
    """The reason of a command that takes no options: every `--` word is an unknown one."""
    for word in words:
        if unescape(word).startswith("--"):
            return _unknown_option(sub, unescape(word))
    return _reason(sub, words)


def _reason(sub: str, words: list[str]) -> str | Invalid:
    text = clean_reason(words)
    if len(text) > MAX_REASON_LENGTH:
        return Invalid(
            sub,
            f"The reason has {len(text)} characters; keep it to {MAX_REASON_LENGTH}.",
            USAGE[sub],
        )
    return text


_NOTHING_FILED = " Nothing was filed."


def _account_problem(name: str) -> str | None:
    if len(name) > MAX_ACCOUNT_LENGTH:
        return (
            f"That account name has {len(name)} characters; Amazon Chime allows at most "
            f"{MAX_ACCOUNT_LENGTH}."
        )
    hidden = hidden_characters(name)
    if hidden:
        return (
            f"The account name “{visible(name)}” contains {', '.join(hidden)}, which cannot be "
            "seen. Type it again."
        )
    return None


def _access_for(value: str) -> tuple[int | None, str]:
    """Seconds for `--for`'s value, or None and why it is not a duration the bot grants."""
    try:
        seconds = parse_duration(value)
    except NotADuration:
        return None, f"“{visible(value, 40)}” is not a duration like 8h, 30d or 2w."
    if seconds < MIN_ACCESS_FOR:
        return None, f"Access must last at least 1 hour; “{visible(value, 40)}” is shorter."
    if seconds > MAX_ACCESS_FOR:
        days = MAX_ACCESS_FOR // 86_400
        return None, f"Access can last at most {days} days; “{visible(value, 40)}” is longer."
    return seconds, ""


def _user_type(value: str) -> UserType | None:
    for member in UserType:
        if member.value.lower() == value.lower():
            return member
    return None
