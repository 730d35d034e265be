"""Slack's command text as a person typed it: tokens, Slack's markup and entities, characters no
one can see, email addresses, reasons.

Slack escapes `&`, `<` and `>` typed by the user as entities, and wraps what it recognises in its
own `<...>` markup (`<mailto:a@b.co|a@b.co>`, `<@U123>`, `<!channel>`). So real angle brackets
in the text are always Slack's markup: parse that first, then decode entities inside each token.
"""

from __future__ import annotations

import re
import unicodedata

# An address as SMTP allows it (RFC 5321: 254).
MAX_EMAIL_LENGTH = 254
# Characters a reader cannot see, or that change how the rest is shown: controls (Cc), format
# characters such as bidi overrides and zero-width spaces (Cf), separators other than the space
# (Zl, Zp, and Zs such as no-break spaces), surrogates, private-use and unassigned code points.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Zs", "Cs", "Co", "Cn"}
_UNNAMED = {"Cc": "control character", "Cs": "surrogate", "Co": "private-use character"}
# Slack's own markup in command text: <https://x|label>, <@U123|name>, <#C123|name>, <!here>.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")

# Chime's own pattern is `.+@.+\..+`; this is that, narrowed to one `@` and to characters that
# can appear in an address without quoting. Nothing else ever reaches an AWS call.
_EMAIL = re.compile(r"[^\s<>|@\"(),;:\\\[\]]+@[^\s<>|@\"(),;:\\\[\]]+\.[^\s<>|@\"(),;:\\\[\].]+")
_MAILTO = re.compile(r"<mailto:([^|>]*)(?:\|[^>]*)?>", re.IGNORECASE)
_TOKEN = re.compile(r"<[^>]*>|[\"“”]([^\"“”]*)[\"“”]?|\S+")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# One piece of a list of addresses: Slack's markup whole (a label may hold a comma), or the text
# between commas and semicolons (not the semicolon that ends Slack's `&amp;` for a typed `&`).
_LIST_PIECE = re.compile(r"<[^>]*>|(?:&(?:amp|lt|gt);|[^,;])+")


def unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def command_words(text: str) -> list[str]:
    """The words of a command: Slack's markup whole, a quoted phrase as one word."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        quoted = match.group(1)
        out.append(quoted if quoted is not None else match.group(0))
    return out


def hidden_characters(text: str) -> list[str]:
    """The characters in `text` a reader would not see as themselves, named (U+200B ZERO WIDTH
    SPACE), in order of first appearance."""
    found: dict[str, None] = {}
    for char in text:
        if char != " " and unicodedata.category(char) in _HIDDEN:
            name = unicodedata.name(char, "") or _UNNAMED.get(unicodedata.category(char), "")
            found[f"U+{ord(char):04X} {name}".strip()] = None
    return list(found)


def visible(text: str, limit: int = 80) -> str:
    """`text` for an error reply: hidden characters shown as ⟨U+XXXX⟩, shortened."""
    shown = "".join(
        f"⟨U+{ord(c):04X}⟩" if c != " " and unicodedata.category(c) in _HIDDEN else c for c in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def email_problem(token: str) -> tuple[str | None, str]:
    """The address in one token, lower-cased, or None and why it is not a plain address."""
    token = token.strip()
    mailto = _MAILTO.fullmatch(token)
    if mailto:
        token = mailto.group(1)
    elif token.startswith("<"):
        # A mention, channel, or link: never an email.
        return None, f"“{visible(readable(token))}” is not an email address."
    email = unescape(token).strip()
    hidden = hidden_characters(email)
    if hidden:
        return None, (
            f"“{visible(email)}” contains {', '.join(hidden)}, which cannot be seen, so the "
            "address you read would not be the one created. Type the address again."
        )
    email = email.lower()
    if len(email) > MAX_EMAIL_LENGTH:
        return None, (
            f"That email address has {len(email)} characters; "
            f"the most an address can have is {MAX_EMAIL_LENGTH}."
        )
    if not _EMAIL.fullmatch(email):
        return None, f"“{visible(email)}” is not an email address."
    return email, ""


def parse_email(token: str) -> str | None:
    """The address in one token, lower-cased, or None if it is not a plain email address."""
    return email_problem(token)[0]


def readable(token: str) -> str:
    """A token as the user saw it: Slack's markup (links, mentions, channels) as its text."""

    def label(match: re.Match[str]) -> str:
        target, text = match.group(1), match.group(2)
        if text:
            return text if target[:1] not in "@#" else target[0] + text
        return {"!": "@"}.get(target[:1], "") + target.lstrip("!")

    return unescape(_MARKUP.sub(label, token))


def clean_reason(words: list[str]) -> str:
    """The reason as printable text: Slack's markup as its text, line breaks, tabs and other
    controls as spaces, invisible and format characters removed, spaces collapsed."""
    return printable(" ".join(readable(w) for w in words))


def printable(text: str) -> str:
    """Text typed in a form, as `clean_reason` makes a command's reason: line breaks, tabs and
    other controls as spaces, invisible and format characters removed, spaces collapsed."""
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp", "Zs"):
            out.append(" ")
        elif category not in _HIDDEN:
            out.append(char)
    return " ".join("".join(out).split())


def leading_addresses(args: list[str]) -> tuple[list[str], int]:
    """The address tokens at the start of `args` (split at commas and semicolons, Slack's
    `<mailto:…|…>` kept whole) and how many of `args` they took. The list ends at the first word
    that is not meant as an address: one with no `@`, or Slack markup other than a mailto link
    (a mention is a reason's word). So a reason may name an address, after the first word."""
    found: list[str] = []
    for taken, token in enumerate(args):
        pieces = [p.strip() for p in _LIST_PIECE.findall(token) if p.strip()]
        if not all(_meant_as_address(p) for p in pieces):
            return found, taken
        found += pieces
    return found, len(args)


def _meant_as_address(piece: str) -> bool:
    if piece.startswith("<"):
        return piece[1:8].lower() == "mailto:"
    return "@" in piece
