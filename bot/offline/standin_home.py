"""The Slack stand-in's App Home: `views.publish`, and clicks in a published Home tab.

`views.publish` follows Slack's reference (docs.slack.dev/reference/methods/views.publish):
arguments `user_id` and `view` (an object, or a JSON-encoded string) and an optional `hash`;
errors `not_enabled` ("a `home` view is published but the Home tab isn't enabled for the
app"), `hash_conflict` ("the provided `hash` doesn't match the current stored value"),
`view_too_large` (over 250 kB) and `invalid_arguments`; Tier 4 (100+ a minute). A view is
checked by `bot.offline.blockkit.home_view_problems` (the Home tab view reference). The answer is
`{"ok": true, "view": {...}}` with Slack's view object: `id`, `team_id`, `type`, `blocks`,
`private_metadata`, `callback_id`, `hash`, `external_id`, `app_id`, `bot_id`, `root_view_id`...
as in the reference's example response.

Where the reference is silent, the stand-in says so here and takes one reading:
- Whether a Home tab keeps its view `id` from one publish to the next: kept (one view per user);
  the bot never relies on it either way, it checks a click's view against the click itself.
- How `invalid_arguments` details a bad view: the reasons in `response_metadata.messages`, the
  shape Slack uses for its other argument errors.
- A `hash` sent for a user with no Home view yet: a conflict (nothing matches it).
- An unknown or malformed `user_id`: `invalid_arguments` (the reference lists no user error).

Clicks: a `block_actions` payload from a Home tab carries `container: {"type": "view",
"view_id": ...}` and the whole `view` (with `private_metadata` and `hash`), and, unlike a
message, no `channel`, `message` or `response_url`
(docs.slack.dev/reference/interaction-payloads/block_actions-payload).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.offline.blockkit import home_view_problems
from bot.offline.blockkit_fields import too_large
from bot.slack.ids import USER_ID

APP_ID = "A0CHIMEBOT"


@dataclass
class HomeTabs:
    """Every user's Home tab as the stand-in's Slack holds it."""

    team_id: str
    bot_id: str = "B0CHIMEBOT"
    enabled: bool = True  # the app's Home tab is on (manifest: features.app_home.home_tab_enabled)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> current view
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # in order
    # When each publish was taken, by `clock` (a test may give the bot's virtual one), to hold
    # the bot to views.publish's rate: Tier 4, "100+ per minute" (the method's reference).
    clock: Callable[[], float] = time.monotonic
    published_at: list[float] = field(default_factory=list)

    def publish(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.enabled:
            return {"ok": False, "error": "not_enabled"}
        user = args.get("user_id")
        view = args.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                return _invalid(["view: not JSON"])
        if not isinstance(user, str) or not USER_ID.fullmatch(user):
            return _invalid(["user_id: must be a user ID"])
        if too_large(view):  # "greater than 250kb" (blockkit_fields.MAX_VIEW_BYTES)
            return {"ok": False, "error": "view_too_large"}
        problems = home_view_problems(view)
        if problems:
            return _invalid(problems)
        current = self.views.get(user)
        given_hash = args.get("hash")
        if given_hash is not None and (current is None or current["hash"] != given_hash):
            return {"ok": False, "error": "hash_conflict"}
        assert isinstance(view, dict)  # home_view_problems refuses anything else
        view_id = current["id"] if current else "V" + secrets.token_hex(5).upper()
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "home",
            "blocks": view["blocks"],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{secrets.token_hex(4)}",
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[user] = stored
        self.published.append((user, stored))
        self.published_at.append(self.clock())
        return {"ok": True, "view": stored}

    def publishes_for(self, user: str) -> int:
        return sum(1 for who, _ in self.published if who == user)


def _invalid(messages: list[str]) -> dict[str, Any]:
    return {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {m}" for m in messages]},
    }


def view_button(view: dict[str, Any], label: str, value: str | None = None) -> dict[str, Any]:
    """The first button labelled `label` (and carrying `value`, if given) in a view, with the
    block_id of its actions block added under `_block_id`."""
    for block in view.get("blocks", []):
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("type") != "button" or element["text"]["text"] != label:
                continue
            if value is None or element.get("value") == value:
                return {**element, "_block_id": block.get("block_id", "")}
    raise LookupError(f"no button labelled {label!r} in this view")


def home_click_payload(
    view: dict[str, Any], label: str, *, user_id: str, value: str | None = None
) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user_id` presses a button in a Home tab."""
    button = view_button(view, label, value)
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "team_id": view["team_id"]},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**12)}",
        "team": {"id": view["team_id"], "domain": "standin"},
        "is_enterprise_install": False,
        "view": view,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": button["_block_id"],
                "text": button["text"],
                "value": button.get("value", ""),
                "style": button.get("style"),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def home_opened_event(team_id: str, user: str, view: dict[str, Any] | None) -> dict[str, Any]:
    """The Events API body of `app_home_opened` for the Home tab
    (docs.slack.dev/reference/events/app_home_opened: `user`, `channel`, `tab`, `event_ts`, and
    `view` once a view has been published for that user)."""
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user.lstrip("UW"),
        "tab": "home",
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = view
    return {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
    }
