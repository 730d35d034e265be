"""The console's transcript: what Slack would show after each input, rendered as text.

`Feed` reads the Slack stand-in's record and finds what is new since the last look: the answer
to the request just sent, late replies to earlier ones, messages posted or updated (each version
once), and modals opened. `Transcript` renders each as Slack would show it (bot/offline/
terminal.py), with a caption saying where, and numbers every button so `click <n>` can press it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from bot.offline import console_form
from bot.offline.slack_standin import Exchange, PostedMessage, SlackStandIn
from bot.offline.terminal import ButtonLabel, Style, render


@dataclass(frozen=True, slots=True)
class Shown:
    """One message as Slack would show it: a caption saying where, and the message itself."""

    caption: str
    message: dict[str, Any]
    channel: str  # where the message is, so where a click on it happens
    # Which message this is, when it can change in place (a post, a Home tab): a later version
    # with the same key replaces it, and the buttons of the version it replaces are gone.
    key: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one command or click led to, once the bot finished (or the wait ran out)."""

    status: int
    shown: tuple[Shown, ...]
    settled: bool


@dataclass(frozen=True, slots=True)
class Button:
    """A button as shown, numbered: what a click on it sends, and where."""

    label: str
    message: dict[str, Any]  # the version that was shown: Slack sends that one with the click
    channel: str
    value: str = ""  # the request ID it carries: a Home tab has many buttons of one label
    key: str = ""  # the message it is on (Shown.key)


class Feed:
    """What the stand-in recorded since the last look: each reply and message version once."""

    def __init__(self, slack: SlackStandIn) -> None:
        self.slack = slack
        self._origin: dict[str, tuple[str, str]] = {}  # response ID -> (user, channel)
        self._replies_seen: dict[str, int] = {}
        self._versions_seen: dict[int, int] = {}  # index in slack.messages -> versions shown
        self._views_seen: dict[str, int] = {}  # view ID -> versions shown

    def follow(self, exchange: Exchange, user: str, channel: str) -> None:
        self._origin[exchange.response_id] = (user, channel)

    def news(self, exchange: Exchange) -> tuple[Shown, ...]:
        """The answer to `exchange` first, then late replies to earlier ones, then posts."""
        shown: list[Shown] = []
        answer = console_form.errors_as_message(exchange.ack) if exchange.ack else None
        if exchange.ack and answer is not None:  # a form's answer: its errors, or a new view
            shown.append(Shown("the form answers", answer, self._origin[exchange.response_id][1]))
        elif exchange.ack:
            shown.append(self._reply(exchange.ack, exchange.response_id, late=False))
        for rid in sorted(self._origin, key=lambda r: r != exchange.response_id):
            posts = self.slack.responses.get(rid, [])
            for body in posts[self._replies_seen.get(rid, 0) :]:
                shown.append(self._reply(body, rid, late=rid != exchange.response_id))
            self._replies_seen[rid] = len(posts)
        forms = console_form.modal_news(self.slack, self._views_seen)
        return (*shown, *self._posts(), *(Shown(c, m, "") for c, m in forms))

    def posts(self) -> tuple[Shown, ...]:
        """What was posted or updated since the last look, when no request started it."""
        return tuple(self._posts())

    def _reply(self, body: dict[str, Any], rid: str, *, late: bool) -> Shown:
        user, channel = self._origin[rid]
        if body.get("response_type") == "in_channel":
            caption = f"in #{channel}, everyone sees this"
        else:
            caption = f"only {user} sees this" if late else "only you see this"
        if body.get("replace_original"):
            caption += ", in place of the message"
        return Shown(f"later, {caption}" if late else caption, body, channel)

    def _posts(self) -> list[Shown]:
        shown = []
        for index, posted in enumerate(self.slack.messages):
            versions = 1 + len(posted.updates)
            seen = self._versions_seen.get(index, 0)
            # Only the latest version: earlier ones were already replaced before anyone looked.
            if versions > seen:
                caption = self._where(posted, updated=seen > 0)
                key = f"{posted.channel}/{posted.ts}"
                shown.append(Shown(caption, posted.current, posted.channel, key))
            self._versions_seen[index] = versions
        return shown

    def _where(self, posted: PostedMessage, *, updated: bool) -> str:
        if posted.ephemeral_to:
            return f"in #{posted.channel}, only {posted.ephemeral_to} sees this"
        if posted.channel.startswith("D"):
            where = f"direct message to {self._dm_user(posted.channel)}"
            return f"{where}, updated in place" if updated else where
        return (
            f"updated in place in #{posted.channel}" if updated else f"posted in #{posted.channel}"
        )

    def _dm_user(self, channel: str) -> str:
        for call in self.slack.calls_to("conversations.open"):
            user = str(call.args.get("users", "")).split(",")[0]
            if channel == "D" + user.lstrip("UW"):
                return user
        return channel


class Transcript:
    """Each outcome as lines of text, every button numbered in the order it was shown.

    A number stays with its button while the button is on screen. When its message is shown
    again in a new version (a card decided, a Home tab republished), a button the new version
    still has (same label, same value) keeps its number and presses the new version; one it no
    longer has is gone, as from Slack's screen: its number is refused, never sent, and the
    refusal names the numbers the message shows now. A new button gets a new number, so a
    number never comes to mean another button.
    """

    def __init__(self, style: Style) -> None:
        self.style = style
        self.buttons: dict[int, Button] = {}  # number -> the button it presses
        self.gone: dict[int, str] = {}  # number -> the key of the message it was on
        self._numbers = itertools.count(1)

    def show(self, outcome: Outcome, wait: float) -> list[str]:
        """The lines for `outcome`; `wait` is how long the bot was given to settle."""
        lines = []
        if outcome.status != 200:
            lines.append(self.hint(f"the bot answered HTTP {outcome.status}"))
        for item in outcome.shown:
            before = self._take(item.key) if item.key else {}
            lines.append(self.style.dim(f"  -- {item.caption} --"))
            lines.append(render(item.message, style=self.style, label=self._numberer(item, before)))
            self.gone.update(dict.fromkeys(before.values(), item.key))
        if not outcome.shown and outcome.status == 200:
            lines.append(self.style.dim("  (nothing to see: the bot sent no message)"))
        if not outcome.settled:
            lines.append(
                self.hint(
                    f"the bot is still working after {wait:.0f}s; "
                    "what it sends later shows after your next input"
                )
            )
        return lines

    def _numberer(self, item: Shown, before: dict[tuple[str, str], int]) -> ButtonLabel:
        """Numbers the buttons of `item`; `before` (taken from its previous version, emptied
        here) gives back the number of a button that is still there."""

        def label(_block_id: str, button: dict[str, Any]) -> str:
            text = str(button["text"]["text"])
            value = str(button.get("value", ""))
            number = before.pop((text, value), None) or next(self._numbers)
            self.buttons[number] = Button(text, item.message, item.channel, value, item.key)
            return f"[{number}] {text}"

        return label

    def _take(self, key: str) -> dict[tuple[str, str], int]:
        """The buttons shown on the previous version of message `key`, off the screen."""
        taken = {n: b for n, b in self.buttons.items() if b.key == key}
        for number in taken:
            del self.buttons[number]
        return {(b.label, b.value): n for n, b in taken.items()}

    def why_gone(self, number: int) -> str | None:
        """Why button [number] can no longer be pressed, or None if it can (or never was)."""
        key = self.gone.get(number)
        if key is None:
            return None
        now = [f"[{n}] {b.label}" for n, b in self.buttons.items() if b.key == key]
        where = f"it shows {', '.join(now)} now" if now else "it has no buttons now"
        return (
            f"button [{number}] is gone: its message was updated since ({where}); nothing was sent"
        )

    def hint(self, text: str) -> str:
        """A line of the console's own, not Slack's: what went wrong, or what to try."""
        return self.style.accent("hint:") + " " + text
