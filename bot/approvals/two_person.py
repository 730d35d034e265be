"""One approver's Approve click under the two-person rule (issue 13): recorded if other
approvals must follow, else the claim of execution.

Both are single conditional writes in the store (`record_approval`, and the move
`Move.claim_approval`, pending -> approving, which itself requires the other approvals to be
recorded and by someone else), so the rule holds on every backend and replica whatever this
module does; this only picks which write to try, and tries again when a rival approval landed
between its read and its write.

An approval counts only while its approver still may decide: at the claim, the approvals so far
are judged again under the current policy (issue 20), and one that no longer holds is taken
off, and named on the card, instead of completing the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.store import InviteRequest, Move, RequestStore, Status, Transition
from bot.store.rules import completes_approvals

# The approvals recorded on a request that no longer hold under the current policy, each with
# why (bot/policy/deciders.py, `Deciders.lapsed`).
Lapsed = Callable[[InviteRequest], Awaitable[dict[str, str]]]


async def record_or_claim(
    store: RequestStore,
    request: InviteRequest,
    user: str,
    *,
    now: float,
    lapsed: Lapsed,
    lease: float,
    margin: float = 0.0,
) -> Transition:
    """`user`'s approval of `request` (as read): ok if this call recorded it or claimed the
    request; otherwise the request as it now is, for the caller to explain (already approved by
    this user, decided, expired).

    Before the claim, every approval recorded so far is asked again whether it still holds
    (`lapsed`): one whose approver has lost the right since does not count. It is taken off in
    the same write that records this approval instead, so the claim waits for someone else."""
    current = request
    # Each lost race means another approval landed or a lapsed one was taken off, and a request
    # holds at most approvals_required - 1 before its claim: more rounds than this cannot be
    # needed.
    for _ in range(2 * request.approvals_required + 1):
        if current.status != Status.PENDING or user in current.approvals:
            break
        gone = await lapsed(current) if completes_approvals(current, user) else {}
        if gone:
            outcome = await store.record_approval(current.id, approver=user, now=now, dropping=gone)
        elif completes_approvals(current, user):
            claim = Move.claim_approval(user, now, lease=lease, margin=margin)
            outcome = await store.transition(current.id, claim)
        else:
            outcome = await store.record_approval(current.id, approver=user, now=now)
        if (
            outcome.ok
            or outcome.request is None
            or not outcome.request.in_time(now, margin=margin)  # too late: no round helps
        ):
            return outcome
        current = outcome.request
    return Transition(ok=False, request=current)
