"""Approve, Deny and Retry buttons: ack at once, then decide through `Approvals`.

The button's value is only the request ID; everything else is read from the store, so a forged
or replayed payload can do no more than a real click by the same user.
"""

from __future__ import annotations

import time
from typing import Any

from bot.approvals.engine import Surface
from bot.approvals.home_surface import home_owner
from bot.cards.approval import ActionId
from bot.cards.errors import reply_for
from bot.deps import Deps
from handlers.context import BUSY, Ack


async def on_action(deps: Deps, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
    await ack()
    # The HTTP door admits a JSON null where Slack sends an object; treat it as absent.
    user = str(_dict(body.get("user")).get("id", ""))
    response_url = str(body.get("response_url", ""))
    request_id = str(action.get("value", ""))
    action_id = ActionId(action["action_id"])
    fields = {
        "request_id": request_id,
        "command": action_id.value,
        "user": user,
        "channel": str(_dict(body.get("channel")).get("id", "")),
    }

    owner = home_owner(body, action)
    surface = clicked_on(body) if owner is None else Surface("", "", home_of=owner)

    async def job() -> None:
        started = time.perf_counter()
        try:
            note = await deps.approvals.decide(request_id, user, action_id, surface)
            outcome = "ok" if note is None else "told_privately"
        except Exception as exc:
            note, outcome = reply_for(exc, deps.log, **fields), "error"
        deps.metrics.command(
            action_id.value, outcome, time.perf_counter() - started, replied_later=True
        )
        if note is not None and owner is not None and not response_url and deps.home:
            # A click in a view comes without a response_url: the note goes at the top of the
            # clicker's own Home tab (theirs, whatever view the click claimed to come from).
            await deps.home.publish(user, notice=note)
        elif note is not None:
            await deps.responder.send(response_url, note, replace_original=False)

    if not deps.jobs.spawn(job(), name=f"{action_id.value}:{request_id}"):
        deps.jobs.spawn_notice(
            deps.responder.send(response_url, BUSY, replace_original=False), name="busy"
        )


def clicked_on(body: dict[str, Any]) -> Surface:
    """Where Slack says the button was. A block_actions payload from a message names it twice:
    `container` (`channel_id`, `message_ts`) and the top-level `channel.id` and `message.ts`
    (docs.slack.dev/reference/interaction-payloads/block_actions-payload). Either may be the
    one present; if both are and they disagree, or the container is not a message (an App Home
    or modal `view`), the surface is empty and matches no card."""
    container, channel, message = (_dict(body.get(k)) for k in ("container", "channel", "message"))
    if container.get("type", "message") != "message":
        return Surface("", "")
    return Surface(
        _agreed(container.get("channel_id"), channel.get("id")),
        _agreed(container.get("message_ts"), message.get("ts")),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _agreed(*values: object) -> str:
    given = {str(v) for v in values if v}
    return given.pop() if len(given) == 1 else ""
