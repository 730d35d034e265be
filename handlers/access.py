"""`/chime access` and the Extend button (issue 21, time-bound access).

`/chime access` lists the time-bound users whose access has not ended, with their ends, to
whoever may use `/chime` in the channel (privately): the ends are no secret from the people who
work with those users. Extend files an extension for the account's approvers; only the person
who asked for the access may (bot/approvals/access.py).
"""

from __future__ import annotations

from typing import Any

from bot.cards.access import access_list
from bot.cards.base import Reply
from bot.cards.errors import reply_for
from bot.deps import Deps
from bot.slack.commands import Access
from handlers.context import BUSY, Ack, Invocation, reply_later


async def handle(cmd: Access, inv: Invocation, deps: Deps) -> None:
    async def listing() -> tuple[Reply, str]:
        return access_list(await deps.approvals.time_bound()), "ok"

    await reply_later(inv, deps, listing)


async def on_extend(deps: Deps, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
    await ack()
    user = str((body.get("user") or {}).get("id", ""))
    response_url = str(body.get("response_url", ""))
    invite_id = str(action.get("value", ""))

    async def job() -> None:
        try:
            note, _ = await deps.approvals.extend(invite_id, user)
        except Exception as exc:
            note = reply_for(exc, deps.log, request_id=invite_id, user=user)
        if response_url:
            await deps.responder.send(response_url, note, replace_original=False)
        else:
            await deps.approvals.notifier.tell_user(user, "", note)

    if not deps.jobs.spawn(job(), name=f"extend:{invite_id}"):
        deps.jobs.spawn_notice(
            deps.responder.send(response_url, BUSY, replace_original=False), name="busy"
        )
