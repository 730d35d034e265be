"""Block Kit rendering: pure functions from the bot's data to `{"text": ..., "blocks": [...]}`.

Every string from a user or from Chime passes through `escape` before it reaches mrkdwn, so no
input can produce a mention or a link. Only this module builds `<...>` Slack tokens (dates).
Headers are plain_text and only ever carry fixed wording, never data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.models import UserRecord

Block = dict[str, Any]
MAX_SECTION_TEXT = 3000


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # notification/fallback text, also mrkdwn-escaped
    blocks: list[Block] = field(default_factory=list)

    def as_message(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: object) -> str:
    """The one mrkdwn escape: Slack's three control characters, `&` first."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(mrkdwn)}}


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
    """A section of label/value fields; values must already be escaped mrkdwn."""
    items = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", 2000)} for label, value in pairs
    ]
    return {"type": "section", "fields": items[:10]}


def context(*mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(t)} for t in mrkdwn]}


def slack_date(moment: datetime | None) -> str:
    """Slack renders this in the reader's time zone; clients that cannot show the plain UTC text."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _value(text: str | None) -> str:
    return escape(text) if text else "—"


def user_card(record: UserRecord) -> Reply:
    user, account = record.user, record.account
    name = user.display_name or user.email
    pin = (
        f"••••••••{escape(user.pin_hint)}"
        if user.pin_hint not in (None, "set")
        else ("set (hidden)" if user.pin_hint else "not set")
    )
    blocks = [
        header("Amazon Chime user"),
        section(
            f"*{escape(user.display_name)}*\n{escape(user.email)}"
            if user.display_name
            else f"*{escape(user.email)}*\n_no display name set_"
        ),
        fields(
            [
                ("User ID", f"`{escape(user.user_id)}`"),
                (
                    "Account",
                    f"{escape(account.name)} ({_value(account.account_type)})"
                    + (" — *account suspended*" if account.is_suspended else ""),
                ),
                ("License", _value(user.license_type)),
                ("User type", _value(user.user_type)),
                ("Registration", _value(user.registration_status)),
                ("Invitation", _value(user.invitation_status)),
            ]
        ),
        fields(
            [
                ("Registered", slack_date(user.registered_on)),
                ("Invited", slack_date(user.invited_on)),
                ("Phone number", "provisioned" if user.has_phone_number else "none"),
                ("Meeting PIN", pin),
            ]
        ),
        context(f"Account ID `{escape(account.account_id)}`"),
    ]
    text = f"Chime user {escape(name)} ({escape(user.email)}) in {escape(account.name)}"
    return Reply(text=text, blocks=blocks)


def not_found_card(email: str) -> Reply:
    return Reply(
        text=f"No Chime user with the email {escape(email)}",
        blocks=[
            section(f":mag: No Chime user with the email *{escape(email)}*."),
            context(
                "Checked every account this bot can see. "
                f"To request one: `/chime invite {escape(email)}`"
            ),
        ],
    )


def error_card(
    title: str, message: str, *, hint: str | None = None, error_id: str | None = None
) -> Reply:
    """`title` is fixed wording; `message` and `hint` are escaped here."""
    blocks = [section(f":warning: *{escape(title)}*\n{escape(message)}")]
    notes = []
    if hint:
        notes.append(escape(hint))
    if error_id:
        notes.append(f"Error ID `{escape(error_id)}`: quote it to whoever runs this bot.")
    if notes:
        blocks.append(context(*notes))
    return Reply(text=f"{escape(title)}: {escape(message)}", blocks=blocks)


@dataclass(frozen=True, slots=True)
class HelpEntry:
    usage: str
    example: str
    summary: str


def help_card(
    entries: list[HelpEntry], *, note: str | None = None, footer: str | None = None
) -> Reply:
    blocks: list[Block] = [header("chime-bot: Amazon Chime user admin")]
    if note:
        blocks.append(section(f":grey_question: {escape(note)}"))
    for entry in entries:
        blocks.append(
            section(
                f"*`{escape(entry.usage)}`*\n{escape(entry.summary)}\n"
                f"Example: `{escape(entry.example)}`"
            )
        )
    if footer:
        blocks.append(context(escape(footer)))
    text = "chime-bot commands: " + ", ".join(escape(e.usage) for e in entries)
    return Reply(text=text, blocks=blocks)
