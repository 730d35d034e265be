"""Is a button click from the clicker's own App Home tab? The home surface, added on purpose.

`Approvals.decide` counts a button only where it was shown: on the request's own card, or, from
here, in the Home tab the bot published for the person clicking. Slack's block_actions payload
for a Home tab (docs.slack.dev/reference/interaction-payloads/block_actions-payload) has
`container: {"type": "view", "view_id": ...}` and the `view` itself as Slack holds it: its
`type` ("home"), `id`, `callback_id`, `private_metadata` and `blocks`. Slack shows a Home tab
only to the user it was published for, and `private_metadata` is set by the bot alone (to that
user's ID, bot/cards/home.py) and only echoed by Slack. So a click counts here only if all hold:

- the container is a view, and names the same view as the payload's `view`;
- that view is a `home` view with this bot's callback_id;
- it was published for the clicker (`private_metadata` is the clicker's user ID);
- the view actually carries the clicked button (same action_id and request ID).

Nothing is remembered between publishing and clicking, so any replica can judge any click.
Every other check (who may decide, the claim, exactly once) stays in `Approvals.decide`.
"""

from __future__ import annotations

from typing import Any

from bot.cards.home import CALLBACK_ID


def home_owner(body: dict[str, Any], action: dict[str, Any]) -> str | None:
    """None if the click did not come from a view at all (a message: see `clicked_on`); else
    the user whose own Home tab it came from, or "" if any check above fails (a surface that
    matches nothing)."""
    container, view, user = (_dict(body.get(k)) for k in ("container", "view", "user"))
    if container.get("type") != "view":
        return None
    clicker = user.get("id")
    if not (
        isinstance(clicker, str)
        and clicker
        and view.get("type") == "home"
        and view.get("callback_id") == CALLBACK_ID
        and view.get("id")
        and container.get("view_id") == view.get("id")
        and view.get("private_metadata") == clicker
        and _carries(view, action)
    ):
        return ""
    return clicker


def _carries(view: dict[str, Any], action: dict[str, Any]) -> bool:
    wanted = (action.get("action_id"), action.get("value"))
    blocks = view.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        elements = _dict(block).get("elements")
        for element in elements if isinstance(elements, list) else []:
            element = _dict(element)
            if (
                element.get("type") == "button"
                and (
                    element.get("action_id"),
                    element.get("value"),
                )
                == wanted
            ):
                return True
    return False


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
