"""Block Kit rendering: pure functions from the bot's data to `{"text": ..., "blocks": [...]}`.

The one rendering path for untrusted text (anything from a user or from Chime: emails, reasons,
account and display names, error messages) is `plain()`, and it puts that text in `plain_text`
objects only. Slack's text-object reference
(docs.slack.dev/reference/block-kit/composition-objects/text-object) gives formatting markup
(bold, italics, strike, code, quotes), manual parsing strings (`<...>` links, mentions, dates)
and automatic parsing (links from bare URLs, conversation names, mentions) to `mrkdwn` alone;
`plain_text` gets none of them, and with `emoji: false` not even `:emoji:` codes. So there is
nothing to escape in `plain_text`, and what the reader sees is the text itself, character for
character. `clean()` still makes it one line of printable characters (no controls, bidi
overrides or zero-width characters: they could reorder or hide what is shown, or start lines
of their own), and, as insurance against any client that linkifies plain text (the reference
does not say none does), puts an invisible WORD JOINER into URL schemes (`https:⁠//`). Emails
cannot contain `:`, so an address is never altered and copies back exactly.

`mrkdwn` objects carry only this module's fixed wording and the tokens the bot builds itself
(mentions of Slack-issued user and channel IDs, dates), and all are `verbatim: true`, which the
same reference says turns automatic parsing off. `md()` is for that wording alone.

The exception is a message's top-level `text`, the notification fallback, which Slack treats as
mrkdwn and which should name the email: `literal()` escapes it (`&`, `<`, `>`, as Slack's
formatting reference asks, docs.slack.dev/messaging/formatting-message-text#escaping) and, since
Slack documents no escape for `*_~` and backquote, follows each one that could open or close
formatting with a WORD JOINER: best effort, for a line shown only in notifications.

Every length is measured in UTF-16 code units, which is never less than the code-point count:
whichever Slack counts, a text we clip fits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.models import UserRecord
from bot.slack.ids import APPROVER_ID
from bot.slack.limits import MAX_FIELD, MAX_FIELDS, MAX_HEADER, MAX_TEXT
from bot.slack.limits import units as units
from bot.slack.message import WORD_JOINER as WORD_JOINER
from bot.slack.message import Block as Block
from bot.slack.message import Reply as Reply
from bot.slack.message import shorten as shorten

TextObject = dict[str, Any]
# A markup character that is not between two letters or digits: one that could open or close
# bold, italics, strike or code (`snake_case` and `a*b` cannot, and stay untouched).
_MARKUP = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
_SPACES = re.compile(r"\s+")


# ---- text ------------------------------------------------------------------------------------


def clean(text: object) -> str:
    """One line of printable text: controls and line breaks become spaces, format characters
    (bidi controls, zero-width characters) and lone surrogates go, runs of spaces collapse."""
    line = str(text)
    # Fast path for ordinary text: isprintable() is false for every character handled below
    # (and for separators other than the ASCII space, which the regex then collapses).
    if not line.isprintable():
        out = []
        for char in line:
            category = unicodedata.category(char)
            if category in ("Cc", "Zl", "Zp"):
                out.append(" ")
            elif category not in ("Cf", "Cs"):
                out.append(char)
        line = "".join(out)
    if not line.isprintable() or "  " in line or line[:1] == " " or line[-1:] == " ":
        line = _SPACES.sub(" ", line).strip()
    if "://" in line:
        # Every `://`, not only after a well-formed scheme: a linkifying client may be laxer
        # about what a scheme is than RFC 3986.
        line = line.replace("://", ":" + WORD_JOINER + "//")
    return line


def escape(text: object) -> str:
    """Slack's three control characters as entities, `&` first: for the bot's own wording in
    mrkdwn (usage lines with `<email>`), never for data."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: object) -> str:
    """Untrusted text for a message's mrkdwn fallback `text` (see the module notes)."""
    return _MARKUP.sub(lambda m: m.group() + WORD_JOINER, escape(clean(text)))


# ---- text objects and blocks ------------------------------------------------------------------


def plain(text: object, limit: int = MAX_TEXT, *, middle: bool = False) -> TextObject:
    """Untrusted (or any) text, shown exactly as it is. Empty text shows as a dash."""
    shown = shorten(clean(text), limit, middle=middle) or "—"
    return {"type": "plain_text", "text": shown, "emoji": False}


def lines(*parts: object, limit: int = MAX_TEXT) -> TextObject:
    """Several cleaned lines in one plain_text object: line breaks only where the card puts
    them, each part shortened so the whole fits."""
    cleaned = [clean(p) or "—" for p in parts]
    budget = max(1, (limit - len(cleaned) + 1) // max(1, len(cleaned)))
    text = "\n".join(shorten(p, budget, middle=True) for p in cleaned)
    return {"type": "plain_text", "text": text, "emoji": False}


def md(text: str, limit: int = MAX_TEXT) -> TextObject:
    """The bot's own mrkdwn: fixed wording and tokens it built. Never data."""
    return {"type": "mrkdwn", "text": shorten(text, limit), "verbatim": True}


def header(text: object) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def divider() -> Block:
    return {"type": "divider"}


def section(mrkdwn: str) -> Block:
    """A section of the bot's own mrkdwn."""
    return {"type": "section", "text": md(mrkdwn)}


def says(*parts: object) -> Block:
    """A section of untrusted text, one line per part."""
    return {"type": "section", "text": lines(*parts)}


def listing(rows: Iterable[object], limit: int = MAX_TEXT) -> list[Block]:
    """Rows of untrusted text, one cleaned line each, packed into as few plain-text sections
    as fit `limit`: a row is never split across two, and one too long alone is shortened."""
    blocks: list[Block] = []
    chunk: list[str] = []
    used = 0
    for row in rows:
        line = shorten(clean(row) or "—", limit, middle=True)
        if chunk and used + 1 + units(line) > limit:
            blocks.append(_plain_section(chunk))
            chunk, used = [], 0
        used += units(line) + (1 if chunk else 0)
        chunk.append(line)
    if chunk:
        blocks.append(_plain_section(chunk))
    return blocks


def _plain_section(rows: list[str]) -> Block:
    return {
        "type": "section",
        "text": {"type": "plain_text", "text": "\n".join(rows), "emoji": False},
    }


def fields(pairs: Iterable[tuple[str, object]]) -> list[Block]:
    """Label/value rows: a bold label (fixed wording) beside its value, five rows to a section
    (Slack allows ten fields per section). A value is plain text, or a text object the caller
    built (a date)."""
    items: list[TextObject] = []
    for label, value in pairs:
        shown = value if isinstance(value, dict) else plain(value, MAX_FIELD, middle=True)
        items += [md(f"*{label}*", MAX_FIELD), shown]
    return [
        {"type": "section", "fields": items[i : i + MAX_FIELDS]}
        for i in range(0, len(items), MAX_FIELDS)
    ]


def context(*elements: TextObject | str) -> Block:
    """A context line; strings are the bot's own mrkdwn, dicts are text objects (`plain()`)."""
    objects = [md(e) if isinstance(e, str) else e for e in elements]
    return {"type": "context", "elements": objects[:10]}


def slack_date(moment: datetime | None) -> str:
    """Slack renders this in the reader's time zone; clients that cannot show the plain UTC text."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def epoch_date(epoch: float | None) -> str:
    """`slack_date` of a stored time (seconds since the epoch): the one date every card and note
    about a request shows. No time (None, or 0, which no request was ever filed at) is "—"."""
    return slack_date(datetime.fromtimestamp(epoch, UTC) if epoch else None)


# ---- cards -----------------------------------------------------------------------------------


# What Chime's BatchSuspendUser does on the accounts where a user stays suspended in the account
# (EnterpriseLWA): "immediately signed out of Amazon Chime and can no longer sign in" (the model).
SUSPENDED_MEANS = "signed out of Amazon Chime, and cannot sign in until unsuspended"


def user_card(record: UserRecord, access_until: float | None = None) -> Reply:
    """`access_until`: when the user's time-bound access ends (None: it does not)."""
    user, account = record.user, record.account
    name = user.display_name or user.email
    pin = (
        f"••••••••{user.pin_hint}"
        if user.pin_hint not in (None, "set")
        else ("set (hidden)" if user.pin_hint else "not set")
    )
    blocks = [
        header("Amazon Chime user"),
        says(user.display_name, user.email)
        if user.display_name
        else says(user.email, "(no display name set)"),
        *([section(f"⛔ *Suspended:* {SUSPENDED_MEANS}.")] if user.is_suspended else []),
        *fields(
            [
                ("User ID", user.user_id),
                (
                    "Account",
                    f"{account.name} ({account.account_type or '—'})"
                    + (" — account suspended" if account.is_suspended else ""),
                ),
                ("License", user.license_type),
                ("User type", user.user_type),
                (
                    "Registration",
                    "Suspended — cannot sign in" if user.is_suspended else user.registration_status,
                ),
                ("Invitation", user.invitation_status),
                ("Registered", md(slack_date(user.registered_on))),
                ("Invited", md(slack_date(user.invited_on))),
                ("Phone number", "provisioned" if user.has_phone_number else "none"),
                ("Meeting PIN", pin),
                *([("Access ends", md(epoch_date(access_until)))] if access_until else []),
            ]
        ),
        context("Account ID", plain(account.account_id)),
    ]
    text = f"Chime user {literal(name)} ({literal(user.email)}) in {literal(account.name)}"
    if user.is_suspended:
        text += " (suspended)"
    return Reply(text=text, blocks=blocks)


def not_found_card(email: str) -> Reply:
    return Reply(
        text=f"No Chime user with the email {literal(email)}",
        blocks=[
            says(f"🔎 No Chime user with the email {clean(email)}."),
            context(
                "Checked every account this bot can see. To request one:",
                plain(f"/chime invite {email}"),
            ),
        ],
    )


def error_card(
    title: str, message: str, *, hint: str | None = None, error_id: str | None = None
) -> Reply:
    """`title` is fixed wording; `message` and `hint` may carry data and are plain text."""
    blocks = [section(f":warning: *{escape(title)}*"), says(message)]
    notes: list[TextObject | str] = []
    if hint:
        notes.append(plain(hint))
    if error_id:
        notes.append(f"Error ID `{escape(error_id)}`: quote it to whoever runs this bot.")
    if notes:
        blocks.append(context(*notes))
    return Reply(text=f"{literal(title)}: {literal(message)}", blocks=blocks)


@dataclass(frozen=True, slots=True)
class HelpEntry:
    usage: str
    example: str
    summary: str


@dataclass(frozen=True, slots=True)
class HelpGroup:
    """Commands shown together under a heading, after the card's first entries; `note` says
    what they have in common (all fixed wording)."""

    title: str
    entries: tuple[HelpEntry, ...]
    note: str = ""


# Mentions: only of IDs in Slack's own form, so a member list read from Slack cannot add markup.
MAX_MENTIONS = 25


def mentions(ids: Iterable[str]) -> str:
    """`<@U…>` for users, `<!subteam^S…>` for user groups, at most MAX_MENTIONS of them."""
    valid = sorted(i for i in set(ids) if APPROVER_ID.fullmatch(i))
    shown = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in valid[:MAX_MENTIONS]]
    more = len(valid) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "no one"


def approvers_block(
    approvers: Iterable[str], groups: Iterable[str], problem: str | None = None
) -> list[Block]:
    """Who can approve now (group members included), the groups they come from, and, when a
    group could not be read (its members are then missing), why: that text comes from Slack,
    so it is plain text."""
    groups = list(groups)
    label = "Can approve now" if problem is None else "Can approve now (some group members unknown)"
    line = f"*{label}:* {mentions(approvers)}"
    if groups:
        line += f"\n_Includes the members of:_ {mentions(groups)}"
    blocks = [context(line)]
    if problem:
        blocks.append(context(plain(problem)))
    return blocks


def help_card(
    entries: list[HelpEntry],
    *,
    note: str | None = None,
    footer: str | None = None,
    extra: list[Block] | None = None,
    groups: Iterable[HelpGroup] = (),
) -> Reply:
    """Entries, groups and footer are fixed wording; `note` may quote what the user typed;
    `extra` are blocks built by this module (approvers_block)."""
    blocks: list[Block] = [header("chime-bot: Amazon Chime user admin")]
    if note:
        blocks.append(says(f"❔ {note}"))
    shown = list(entries)
    blocks += [_help_entry(entry) for entry in entries]
    for group in groups:
        blocks += [divider(), section(f"*{escape(group.title)}*")]
        if group.note:
            blocks.append(context(escape(group.note)))
        blocks += [_help_entry(entry) for entry in group.entries]
        shown += group.entries
    if footer:
        blocks.append(context(escape(footer)))
    blocks += extra or []
    text = "chime-bot commands: " + ", ".join(literal(e.usage) for e in shown)
    return Reply(text=text, blocks=blocks)


def _help_entry(entry: HelpEntry) -> Block:
    return section(
        f"*`{escape(entry.usage)}`*\n{escape(entry.summary)}\nExample: `{escape(entry.example)}`"
    )
