"""Turn `/chime` text, exactly as Slack sends it, into typed commands.

Slack escapes `&`, `<` and `>` typed by the user as entities, and wraps what it recognises in its
own `<...>` markup (`<mailto:a@b.co|a@b.co>`, `<@U123>`, `<!channel>`). So real angle brackets
in the text are always Slack's markup: parse that first, then decode entities inside each token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import UserType

MAX_EMAIL_LENGTH = 254
MAX_REASON_LENGTH = 500

# Chime's own pattern is `.+@.+\..+`; this is that, narrowed to one `@` and to characters that
# can appear in an address without quoting. Nothing else ever reaches an AWS call.
_EMAIL = re.compile(r"[^\s<>|@\"(),;:\\\[\]]+@[^\s<>|@\"(),;:\\\[\]]+\.[^\s<>|@\"(),;:\\\[\].]+")
_MAILTO = re.compile(r"<mailto:([^|>]*)(?:\|[^>]*)?>", re.IGNORECASE)
_TOKEN = re.compile(r"<[^>]*>|[\"“”]([^\"“”]*)[\"“”]?|\S+")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


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


@dataclass(frozen=True, slots=True)
class Pending:
    pass


@dataclass(frozen=True, slots=True)
class Invalid:
    """Text we understood well enough to say precisely what is wrong with it."""

    subcommand: str
    problem: str
    usage: str


Command = Help | LookupUser | Invite | Pending | Invalid

# Each subcommand's syntax and an example, for error replies and for the help card.
SYNTAX: dict[str, tuple[str, str]] = {
    "user": ("/chime user <email>", "/chime user ada@example.com"),
    "invite": (
        "/chime invite <email> [--account <name>] [--type PrivateUser|SharedDevice] [reason]",
        '/chime invite ada@example.com --account "Example Corp" new hire',
    ),
    "pending": ("/chime pending", "/chime pending"),
}
USAGE = {name: f"{usage}   e.g. {example}" for name, (usage, example) in SYNTAX.items()}


def unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        quoted = match.group(1)
        out.append(quoted if quoted is not None else match.group(0))
    return out


def parse_email(token: str) -> str | None:
    """The address in one token, lower-cased, or None if it is not a plain email address."""
    token = token.strip()
    mailto = _MAILTO.fullmatch(token)
    if mailto:
        token = mailto.group(1)
    elif token.startswith("<"):
        return None  # a mention, channel, or link: never an email
    email = unescape(token).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in email):
        return None
    return email


def parse(text: str) -> Command:
    tokens = _tokens(text or "")
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
        return (
            Pending()
            if not args
            else Invalid("pending", "`pending` takes no arguments.", USAGE["pending"])
        )
    return Help(unknown=unescape(tokens[0])[:40])


def _parse_user(args: list[str]) -> Command:
    if len(args) != 1:
        problem = "Give exactly one email address." if args else "Give an email address."
        return Invalid("user", problem, USAGE["user"])
    email = parse_email(args[0])
    if email is None:
        return Invalid(
            "user", f"`{unescape(args[0])[:80]}` is not an email address.", USAGE["user"]
        )
    return LookupUser(email)


def _parse_invite(args: list[str]) -> Command:
    if not args:
        return Invalid("invite", "Give the email address to invite.", USAGE["invite"])
    email = parse_email(args[0])
    if email is None:
        return Invalid(
            "invite", f"`{unescape(args[0])[:80]}` is not an email address.", USAGE["invite"]
        )
    account: str | None = None
    user_type = UserType.PRIVATE
    reason: list[str] = []
    rest = iter(args[1:])
    for raw in rest:
        word = unescape(raw)
        flag, _, inline = word.partition("=")
        if flag in ("--account", "--type"):
            value = inline or unescape(next(rest, "")).strip()
            if not value:
                return Invalid("invite", f"`{flag}` needs a value.", USAGE["invite"])
            if flag == "--account":
                account = value
            else:
                matched = _user_type(value)
                if matched is None:
                    return Invalid(
                        "invite", "`--type` must be PrivateUser or SharedDevice.", USAGE["invite"]
                    )
                user_type = matched
        elif word.startswith("--"):
            return Invalid("invite", f"Unknown option `{word[:40]}`.", USAGE["invite"])
        else:
            reason.append(word)
    text = " ".join(reason).strip()
    if len(text) > MAX_REASON_LENGTH:
        return Invalid(
            "invite", f"Keep the reason under {MAX_REASON_LENGTH} characters.", USAGE["invite"]
        )
    return Invite(email=email, account=account, user_type=user_type, reason=text)


def _user_type(value: str) -> UserType | None:
    for member in UserType:
        if member.value.lower() == value.lower():
            return member
    return None
