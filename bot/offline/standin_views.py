"""The Slack stand-in's modals: `views.open` and `views.update`, with the checks Slack makes.

From Slack's reference:
- views.open (docs.slack.dev/reference/methods/views.open) exchanges a `trigger_id` from an
  interaction for a modal. Its errors include `invalid_trigger_id` ("the expected format is
  132456.7890123.abcdef"), `expired_trigger_id` and `exchanged_trigger_id` ("already exchanged
  in a previous call"). The modals guide gives a trigger 3 seconds. One trigger opens one view.
- views.update (docs.slack.dev/reference/methods/views.update) takes `view_id` or
  `external_id`, and `hash`: when the hash "doesn't match the current stored value" the answer is
  `hash_conflict`; an unknown view is `not_found`. Every open and update gives a new hash.
- A view Slack will not take is `invalid_arguments` (both methods list it), with the reasons in
  `response_metadata.messages`, as Slack sends them for views. What counts as invalid is
  `bot.offline.blockkit.modal_problems`; a view "greater than 250kb" is `view_too_large` (both
  methods list it).
- A `view_submission`'s answer (`answered`; docs.slack.dev/surfaces/modals, "Handling
  submissions"): none closes the modal; `response_action: update` replaces it with a view that
  must pass the same checks; `response_action: errors` shows `errors`, "an object with keys
  being the block_id of input blocks" and strings as values, which must name input blocks of
  the view shown; `clear` closes every view; `push` adds a valid view. Slack cannot tell the app
  it refused an answer (the person sees a generic error in the modal), so the stand-in records
  it in `refused_answers` and the sender raises `RefusedAnswer`, for tests to see.

The reference is silent on a well-formed trigger Slack never issued: it is answered
`invalid_trigger_id` here. A trigger is checked before the view, as the reference's order of
"view object properly formatted, valid, and the trigger_id viable" leaves open: either order
gives the bot one error to handle, and both errors are tested.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.offline.blockkit import modal_problems
from bot.offline.blockkit_fields import too_large

TRIGGER_LIFETIME = 3.0  # seconds: "triggers expire in three seconds" (the modals guide)
_TRIGGER = re.compile(r"[0-9]+\.[0-9]+\.[0-9a-f]+")


@dataclass
class OpenView:
    """One modal as Slack holds it: its current view, hash and the user it was opened for."""

    id: str
    user: str
    view: dict[str, Any]
    hash: str
    history: list[dict[str, Any]] = field(default_factory=list)  # every view it has shown


@dataclass
class _Trigger:
    user: str
    issued: float
    exchanged: bool = False


class ViewsStandIn:
    def __init__(self, team_id: str, now: Callable[[], float] = time.monotonic) -> None:
        self.team_id = team_id
        self.now = now
        self.views: dict[str, OpenView] = {}
        self._triggers: dict[str, _Trigger] = {}
        # Seconds added to every trigger's age when it is used: a bot (or network) that slow.
        self.late_by = 0.0
        # Answers to view_submission Slack would not take: (view_id, why), in order.
        self.refused_answers: list[tuple[str, list[str]]] = []

    def issue_trigger(self, user: str) -> str:
        """A trigger_id, as Slack puts in an interaction's payload, for `user`."""
        trigger = f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._triggers[trigger] = _Trigger(user, self.now())
        return trigger

    def opened_for(self, user: str) -> list[OpenView]:
        return [v for v in self.views.values() if v.user == user]

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                return _invalid(["view: not JSON"])
        if method == "views.open":
            return self._open(str(args.get("trigger_id", "")), view)
        return self._update(args, view)

    def _open(self, trigger_id: str, view: object) -> dict[str, Any]:
        trigger = self._triggers.get(trigger_id)
        if not _TRIGGER.fullmatch(trigger_id) or trigger is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if trigger.exchanged:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if self.now() - trigger.issued + self.late_by > TRIGGER_LIFETIME:
            return {"ok": False, "error": "expired_trigger_id"}
        if too_large(view):
            return {"ok": False, "error": "view_too_large"}
        problems = modal_problems(view)
        if problems:
            return _invalid(problems)
        assert isinstance(view, dict)
        trigger.exchanged = True
        opened = OpenView(
            id=f"V{secrets.token_hex(5).upper()}", user=trigger.user, view={}, hash=""
        )
        self.views[opened.id] = opened
        return self._show(opened, view)

    def _update(self, args: dict[str, Any], view: object) -> dict[str, Any]:
        opened = self.views.get(str(args.get("view_id", "")))
        if opened is None:
            return {"ok": False, "error": "not_found"}
        wanted = args.get("hash")
        if wanted is not None and wanted != opened.hash:
            return {"ok": False, "error": "hash_conflict"}
        if too_large(view):
            return {"ok": False, "error": "view_too_large"}
        problems = modal_problems(view)
        if problems:
            return _invalid(problems)
        assert isinstance(view, dict)
        return self._show(opened, view)

    def answered(self, view_id: str, answer: object) -> list[str]:
        """Take the app's answer to a submission of `view_id` as Slack would; why it would not,
        if it would not (also kept in `refused_answers`). An update is shown from then on."""
        opened = self.views.get(view_id)
        if opened is None:
            return []
        problems = _answer_problems(opened, answer)
        if problems:
            self.refused_answers.append((view_id, problems))
            return problems
        if isinstance(answer, dict) and answer.get("response_action") == "update":
            self._show(opened, answer["view"])
        return []

    def _show(self, opened: OpenView, view: dict[str, Any]) -> dict[str, Any]:
        opened.hash = f"{int(time.time())}.{secrets.token_hex(4)}"
        opened.view = {
            **copy.deepcopy(view),
            "id": opened.id,
            "team_id": self.team_id,
            "hash": opened.hash,
            "state": {"values": {}},
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
        }
        opened.history.append(opened.view)
        return {"ok": True, "view": opened.view}


ANSWER_KEYS = {
    "errors": {"response_action", "errors"},
    "update": {"response_action", "view"},
    "push": {"response_action", "view"},
    "clear": {"response_action"},
}


def _answer_problems(opened: OpenView, answer: object) -> list[str]:
    """What is wrong with an answer to a view_submission (see the module's docstring)."""
    if answer is None or answer == {}:
        return []  # an empty 200 closes the modal
    if not isinstance(answer, dict):
        return ["answer: not a JSON object"]
    action = answer.get("response_action")
    if not isinstance(action, str) or action not in ANSWER_KEYS:
        return [f"response_action: {action!r}; one of {', '.join(sorted(ANSWER_KEYS))}"]
    problems = [
        f"{key}: not part of a {action} answer" for key in set(answer) - ANSWER_KEYS[action]
    ]
    if action in ("update", "push"):
        view = answer.get("view")
        if too_large(view):
            return [*problems, "view: view_too_large"]
        return problems + modal_problems(view)
    if action == "errors":
        errors = answer.get("errors")
        if not isinstance(errors, dict) or not errors:
            return [*problems, "errors: an object of block_id -> message, not empty"]
        inputs = {
            b.get("block_id")
            for b in opened.view.get("blocks", [])
            if isinstance(b, dict) and b.get("type") == "input"
        }
        for key, message in errors.items():
            if key not in inputs:
                problems.append(f"errors.{key}: not the block_id of an input block in the view")
            if not isinstance(message, str) or not message.strip():
                problems.append(f"errors.{key}: not a message")
    return problems


def _invalid(problems: list[str]) -> dict[str, Any]:
    return {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
    }


# ---- Slack's side: the payloads a modal's user sends -------------------------------------------


def shortcut_payload(callback_id: str, user: str, team_id: str, trigger_id: str) -> dict[str, Any]:
    """A global shortcut, as Slack sends it (docs.slack.dev/reference/interaction-payloads/
    shortcuts-interaction-payload: type `shortcut`, no channel, no response_url)."""
    return {
        "type": "shortcut",
        "token": "deprecated-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "standin"},
        "user": {"id": user, "username": user.lower(), "team_id": team_id},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }


def submission_payload(
    opened: OpenView, fields: Mapping[str, str], user: str, team_id: str, trigger_id: str
) -> dict[str, Any]:
    """A `view_submission` for the modal as it is now shown, with `fields` typed or chosen in
    its input blocks, by block_id (docs.slack.dev/reference/interaction-payloads/
    view-interactions-payload: `view.state.values[block_id][action_id]`, a text input's
    `value`, a select's `selected_option`, a conversations select's `selected_conversation`).
    A select's field names an option by its value; an empty field leaves the input empty."""
    values: dict[str, dict[str, Any]] = {}
    for block in opened.view.get("blocks", []):
        if block.get("type") != "input" or block.get("block_id") not in fields:
            continue
        element, given = block["element"], fields[block["block_id"]]
        values[block["block_id"]] = {element["action_id"]: _state(element, given)}
    view = {**copy.deepcopy(opened.view), "state": {"values": values}}
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "standin"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": "A0CHIMEBOT",
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _state(element: dict[str, Any], given: str) -> dict[str, Any]:
    kind = element["type"]
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": given or None}
    if kind in ("static_select", "radio_buttons"):
        chosen = next((o for o in element.get("options", []) if o["value"] == given), None)
        if chosen is None and given:
            raise LookupError(f"no option {given!r} in {element['action_id']}")
        return {"type": kind, "selected_option": chosen}
    return {"type": kind, "value": given or None}
