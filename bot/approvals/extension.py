"""An approved access extension (`Change.EXTEND`, bot/approvals/access.py) carried out: no Chime
call, one conditional write that moves the time-bound invite's end, only from the end the
extension was filed against."""

from __future__ import annotations

from bot.approvals.outcome import Outcome
from bot.approvals.steps import Steps
from bot.store import InviteRequest, Move, Status


async def run_extension(steps: Steps, request: InviteRequest, actor: str) -> Outcome:
    """The approved extension's one write: the invite's end moves, or it fails saying why."""
    params = request.params
    to = float(params["until"])
    move = Move.extend_access(
        actor, steps.clock.now(), until=float(params["from_until"]), to=to, extension=request.id
    )
    moved = await steps.store.transition(params["access_of"], move)
    current = moved.request
    if moved.ok or (current is not None and current.access_until == to):
        if current is not None:
            steps.changed(current)
        return Status.APPROVED, {"result": {"access_until": repr(to)}}
    return Status.FAILED, {
        "error": "the access had already ended or its end had changed, so it was not extended"
    }
