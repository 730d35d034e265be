"""Approve, Deny and Retry buttons: ack at once, then decide through `Approvals`.

The button's value is only the request ID; everything else is read from the store, so a forged
or replayed payload can do no more than a real click by the same user.
"""

from __future__ import annotations

from typing import Any

from bot.approval_cards import ActionId
from bot.deps import Deps
from bot.errors import reply_for
from handlers.context import BUSY, Ack


async def on_action(deps: Deps, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
    await ack()
    user = str(body.get("user", {}).get("id", ""))
    response_url = str(body.get("response_url", ""))
    request_id = str(action.get("value", ""))
    action_id = ActionId(action["action_id"])
    fields = {
        "request_id": request_id,
        "command": action_id.value,
        "user": user,
        "channel": str(body.get("channel", {}).get("id", "")),
    }

    async def job() -> None:
        try:
            note = await deps.approvals.decide(request_id, user, action_id)
        except Exception as exc:
            note = reply_for(exc, deps.log, **fields)
        if note is not None:
            await deps.responder.send(response_url, note, replace_original=False)

    if not deps.jobs.spawn(job(), name=f"{action_id.value}:{request_id}"):
        deps.jobs.spawn_notice(
            deps.responder.send(response_url, BUSY, replace_original=False), name="busy"
        )
