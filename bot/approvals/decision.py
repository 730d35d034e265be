"""What a click does once it counts (bot/approvals/engine.py has checked where it was made and
who made it): Approve, Deny or Retry, as a claim in the store, then the Chime call for whoever
won the claim.

Exactly-once rests on the store: a decision is one conditional state change (`pending` ->
`approving` or `denied`), and only the caller whose change succeeded runs the Chime call. Double
clicks, Slack retries and rival approvers all lose that race and are told who decided.

The two-person rule picks which write an Approve tries (bot/approvals/two_person.py): an
approval recorded while others are due, or the claim itself with the last one. A bulk invite is
decided by its lead's claim, and its other requests follow it (bot/approvals/batches.py).
"""

from __future__ import annotations

import asyncio

from bot.approvals.batches import follow, retry_batch
from bot.approvals.execution import run_chime_call
from bot.approvals.extension import run_extension
from bot.approvals.steps import INTERRUPTED, Steps
from bot.approvals.two_person import Lapsed, record_or_claim
from bot.cards.approval import ActionId
from bot.cards.base import Reply, error_card
from bot.cards.notes import (
    already_approved_note,
    decided_already_note,
    progress_note,
    too_close_note,
)
from bot.policy.approvers import ApproversUnknown
from bot.store import Change, InviteRequest, Move, Status


async def carry_out(
    steps: Steps, request: InviteRequest, user: str, action: ActionId, lapsed: Lapsed
) -> Reply | None:
    """Carry out `user`'s click on `request`, which counts; a private note for the clicker, if
    there is one. `lapsed`: which approvals recorded so far no longer hold (two_person.py)."""
    request_id = request.id
    if request.batch_id is not None:
        if action == ActionId.RETRY:
            return await retry_batch(steps, request, user)
        # A bulk invite is decided by its first request's claim; the others follow it.
        request = await steps.store.get(request.batch_id) or request
    if action == ActionId.RETRY:
        return await retry(steps, request, user)
    now, margin = steps.clock.now(), steps.margin
    if request.is_expired(now, margin=margin):
        return await steps.expire(request, user)
    approve = action == ActionId.APPROVE
    if approve:
        try:
            claimed = await record_or_claim(
                steps.store,
                request,
                user,
                now=now,
                lapsed=lapsed,
                lease=steps.lease,
                margin=margin,
            )
        except ApproversUnknown as exc:
            # Whether the earlier approvals still hold cannot be told: nothing changes.
            return error_card(exc.title, exc.message, hint=exc.hint)
    else:
        claimed = await steps.store.transition(request.id, Move.deny(user, now, margin=margin))
    current = claimed.request
    if current is None:
        return error_card("Request not found", f"There is no request {request_id}.")
    if not claimed.ok:
        if current.is_expired(now, margin=margin):
            return await steps.expire(current, user)
        if approve and current.status == Status.PENDING and user in current.approvals:
            return already_approved_note(current)
        if current.status == Status.PENDING and not current.in_time(now, margin=margin):
            return too_close_note(current, margin)
        return decided_already_note(current)
    if current.batch_id is not None:
        if current.status == Status.PENDING:  # an approval recorded, not the last
            await steps.show_batch(current.batch_id)
            return None
        await follow(steps, current, user, lead_claimed=True)
        return None
    await steps.show(current)
    if current.status == Status.APPROVING:
        await execute(steps, current, user)
    elif current.status == Status.PENDING:
        # An approval that is not the last: the requester hears that it is under way.
        await steps.notifier.tell_user(
            current.requester, current.origin_channel, progress_note(current)
        )
    else:
        steps.metrics.approval(Status.DENIED.value)
        await steps.tell_requester(current)
    return None


async def retry(steps: Steps, request: InviteRequest, user: str) -> Reply | None:
    """Retry on a failed request's card: claim it again, and call Chime only if a look-up shows
    the failed attempt did not get through after all."""
    now = steps.clock.now()
    claimed = await steps.store.transition(request.id, Move.retry(user, now, lease=steps.lease))
    if claimed.request is None:
        return error_card("Request not found", f"There is no request {request.id}.")
    if not claimed.ok:
        return decided_already_note(claimed.request)
    await steps.show(claimed.request)
    # The failed attempt may have reached Chime after all: look before calling again.
    if not await steps.settle_from_chime(claimed.request, user, if_missing=None, retrying=True):
        await execute(steps, claimed.request, user)
    return None


async def execute(steps: Steps, request: InviteRequest, actor: str, *, quiet: bool = False) -> None:
    """Run the one Chime call for a request this caller has claimed (`approving`); `quiet`:
    its caller tells the requester (a change run without approval, in the command's reply)."""
    try:
        if request.change == Change.EXTEND:
            to, changes = await run_extension(steps, request, actor)
        else:
            to, changes = await run_chime_call(steps.directory, request, steps.pins)
    except asyncio.CancelledError:
        # Shutdown cut the wait short. Chime may still act on the call in flight, so the
        # request becomes retryable, and Retry looks the user up before calling again.
        await asyncio.shield(
            steps.finish(request, Status.FAILED, actor, "interrupted", error=INTERRUPTED)
        )
        raise
    await steps.finish(request, to, actor, to.value, quiet=quiet, **changes)
