"""The door's checks for the request form's payloads: the global shortcut and the form's submission.

Like an Events API body (bot/web/http_guard.py `_event`), each is rebuilt from the fields the bot
reads, after their types are checked: Bolt reads optional fields of these payloads on its own
(`response_urls[0].get(...)`, `view.app_installed_team_id`, `team.enterprise_id`...) and trips on
odd shapes there; passing it only what was checked leaves it nothing to trip on.

Only what manifest.yml asks for is admitted: the shortcut it declares
(`features.shortcuts[].callback_id`), and `view_submission` for the one modal the bot opens.
`view_closed` is sent only for views opened with `notify_on_close` (Slack's modal view
reference), which the bot never sets, so it is refused like any other payload it never asked
for. Shapes: docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload and
.../view-interactions-payload.
"""

from __future__ import annotations

import re
from typing import Any

from bot.cards.form import CALLBACK_ID, SHORTCUT_ID
from bot.slack.ids import ANY_ID
from bot.web.grid_scope import payload_scope

SHORTCUTS = frozenset({SHORTCUT_ID})
VIEW_CALLBACKS = frozenset({CALLBACK_ID})
REBUILT = frozenset({"shortcut", "view_submission"})  # the payload types this module rebuilds
_TRIGGER = re.compile(r"[0-9A-Za-z.]{1,128}")
MAX_FIELD = 4000  # any one string the bot keeps from these payloads


class Refused(Exception):
    """Not a payload this app takes; the message is the door's short reason."""


def rebuilt(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The payload as Bolt will get it, for the kinds this module knows; None for others."""
    kind = payload.get("type")  # a string: bot/web/http_guard.py `_shaped` checked it
    if kind == "shortcut":
        return _shortcut(payload)
    if kind == "view_submission":
        return _submission(payload)
    return None


def _one_of(value: object, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _ids(payload: dict[str, Any]) -> dict[str, Any]:
    """Who and where: the user, and their workspace or (org-wide install, where `team` may be
    null) their organization, as bot/web/grid_scope.py reads them."""
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    scope = payload_scope(payload, user_id) if isinstance(user_id, str) else None
    if scope is None or not ANY_ID.fullmatch(str(user_id)):
        raise Refused("payload without a user and team ID")
    return scope


def _trigger(payload: dict[str, Any]) -> str:
    trigger = payload.get("trigger_id")
    if not isinstance(trigger, str) or not _TRIGGER.fullmatch(trigger):
        raise Refused("payload without a trigger_id")
    return trigger


def _shortcut(payload: dict[str, Any]) -> dict[str, Any]:
    if not _one_of(payload.get("callback_id"), SHORTCUTS):
        raise Refused("not a shortcut this app declares")
    return {
        "type": "shortcut",
        "callback_id": payload["callback_id"],
        "trigger_id": _trigger(payload),
        **_ids(payload),
    }


def _submission(payload: dict[str, Any]) -> dict[str, Any]:
    view = payload.get("view")
    if not isinstance(view, dict) or not _one_of(view.get("callback_id"), VIEW_CALLBACKS):
        raise Refused("not a view this app opens")
    kept: dict[str, Any] = {"type": "modal", "callback_id": view["callback_id"]}
    for name in ("id", "hash", "private_metadata"):
        value = view.get(name, "")
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise Refused(f"`view.{name}` is not a string")
        kept[name] = value
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    kept["state"] = {"values": _values(values)}
    trigger = payload.get("trigger_id")
    rebuilt = {"type": "view_submission", "view": kept, **_ids(payload)}
    if trigger is not None:
        rebuilt["trigger_id"] = _trigger(payload)
    return rebuilt


def _values(values: object) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values`: block_id -> action_id -> the input's state, each an object. The
    state's own fields are read defensively by `bot.cards.form`; here only the nesting."""
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(
        isinstance(actions, dict) and all(isinstance(s, dict) for s in actions.values())
        for actions in values.values()
    ):
        raise Refused("`view.state.values` is not block_id -> action_id -> state")
    return values
