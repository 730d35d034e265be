"""The request form in `chime-bot console`: each modal the bot opens or updates is shown as text,
and `form field=value …` fills in and submits the latest one, as Slack would send it.

`/chime invite` alone opens the form; `shortcut` uses the global shortcut. Then, for example:
`form email=ada.new@example.com account="Example Corp" reason="new hire"`. An account may be
given by name, by ID or by its number in the list shown; `type` is PrivateUser (the default
choice) or SharedDevice; `for` is how long the access lasts (No end, the default, or 8h, 1d, 7d,
30d, 90d); `channel` is asked for only by the shortcut's form.
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.cards.form import SHORTCUT_ID, Field
from bot.offline.slack_standin import Exchange, SlackStandIn
from bot.offline.standin_views import OpenView
from bot.offline.wiring import OfflineBot

WORDS = {
    "email": Field.EMAIL,
    "account": Field.ACCOUNT,
    "type": Field.USER_TYPE,
    "reason": Field.REASON,
    "channel": Field.CHANNEL,
    "for": Field.ACCESS_FOR,
}


class FormProblem(Exception):
    """The input cannot be turned into a submission; the message says why, for a hint."""


# ---- showing modals ---------------------------------------------------------------------------


def modal_news(slack: SlackStandIn, seen: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """(caption, message to render) for each modal shown since the last look: its latest view."""
    news = []
    for view_id, opened in slack.views.views.items():
        if len(opened.history) > seen.get(view_id, 0):
            caption = f"a form, open for {opened.user}"
            if opened.view.get("submit"):
                fields = [b["block_id"] for b in opened.view["blocks"] if b["type"] == "input"]
                words = " ".join(f"{w}=…" for w, f in WORDS.items() if f in fields)
                caption += f"; fill it in with: form {words}"
            news.append((caption, as_message(opened.view)))
        seen[view_id] = len(opened.history)
    return news


def as_message(view: dict[str, Any]) -> dict[str, Any]:
    """A modal as a message the console's renderer shows: its title, then each field."""
    title = view["title"]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": title}]
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            blocks.append(block)
            continue
        word = next((w for w, f in WORDS.items() if f == block.get("block_id")), "?")
        label = f"{block['label']['text']} ({word}=…)"
        if block.get("optional"):
            label += ", optional"
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": label}})
        options = block["element"].get("options", [])
        chosen = (block["element"].get("initial_option") or {}).get("value")
        for number, option in enumerate(options, 1):
            mark = " (chosen)" if option["value"] == chosen else ""
            line = f"    {number}) {option['text']['text']}{mark}"
            blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": line}]})
    return {"text": title["text"], "blocks": blocks}


def errors_as_message(ack: dict[str, Any]) -> dict[str, Any] | None:
    """The form's answer to a submission, as a message: inline errors, or a replaced view."""
    if ack.get("response_action") == "errors":
        lines = [f"{word}: {ack['errors'][f]}" for word, f in WORDS.items() if f in ack["errors"]]
        return {"text": "The form needs fixing:\n" + "\n".join(lines)}
    if ack.get("response_action") == "update":
        return as_message(ack["view"])
    return None


# ---- filling the form in ----------------------------------------------------------------------


def parse(text: str) -> dict[str, str]:
    """`email=… account="…"` as {word: value}; FormProblem for anything else."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FormProblem(f"could not read that: {exc}") from None
    given: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or name.lower() not in WORDS:
            raise FormProblem(f"form takes {', '.join(f'{w}=…' for w in WORDS)}; not {word!r}")
        given[name.lower()] = value
    return given


def submit(given: dict[str, str], user: str) -> Any:
    """A function that, on the bot's loop, submits the latest form open for `user`."""

    async def send(bot: OfflineBot) -> Exchange:
        form = _latest(bot.slack, user)
        return await bot.sender.submit(form.id, _values(form, given), user_id=user)

    return send


def shortcut(user: str) -> Any:
    async def send(bot: OfflineBot) -> Exchange:
        return await bot.sender.shortcut(SHORTCUT_ID, user_id=user)

    return send


def _latest(slack: SlackStandIn, user: str) -> OpenView:
    forms = [v for v in slack.views.opened_for(user) if v.view.get("submit")]
    if not forms:
        raise FormProblem(f"no form is open for {user}: /chime invite or shortcut opens one")
    return forms[-1]


def _values(form: OpenView, given: dict[str, str]) -> dict[str, str]:
    """The fields by block_id, as Slack sends them: options by value, initial choices kept."""
    values: dict[str, str] = {}
    for block in form.view["blocks"]:
        if block.get("type") != "input":
            continue
        field, element = block["block_id"], block["element"]
        word = next(w for w, f in WORDS.items() if f == field)
        initial = (element.get("initial_option") or {}).get("value", "")
        typed = given.get(word)
        values[field] = initial if typed is None else _choice(element, typed, word)
    return values


def _choice(element: dict[str, Any], typed: str, word: str) -> str:
    options = element.get("options")
    if not options:
        return typed
    for number, option in enumerate(options, 1):
        if typed.casefold() in (str(number), option["value"].casefold()):
            return str(option["value"])
        if typed.casefold() == option["text"]["text"].casefold():
            return str(option["value"])
    names = ", ".join(o["text"]["text"] for o in options)
    raise FormProblem(f"{word}={typed!r} is not one of the choices: {names}")
