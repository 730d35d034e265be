"""One approver's Approve click under the two-person rule (issue 13): recorded if other
approvals must follow, else the claim of execution.

Both are single conditional writes in the store (`record_approval`, and the move
`Move.claim_approval`, pending -> approving, which itself requires the other approvals to be
recorded and by someone else), so the rule holds on every backend and replica whatever this
module does; this only picks which write to try, and tries again when a rival approval landed
between its read and its write.
"""

from __future__ import annotations

from bot.store import InviteRequest, Move, RequestStore, Status, Transition
from bot.store.rules import completes_approvals


async def record_or_claim(
    store: RequestStore, request: InviteRequest, user: str, *, now: float
) -> Transition:
    """`user`'s approval of `request` (as read): ok if this call recorded it or claimed the
    request; otherwise the request as it now is, for the caller to explain (already approved by
    this user, decided, expired)."""
    current = request
    # Each lost race means another approval landed, and a request needs at most
    # approvals_required of them: one round more than that cannot be needed.
    for _ in range(request.approvals_required + 1):
        if current.status != Status.PENDING or user in current.approvals:
            break
        if completes_approvals(current, user):
            outcome = await store.transition(current.id, Move.claim_approval(user, now))
        else:
            outcome = await store.record_approval(current.id, approver=user, now=now)
        if outcome.ok or outcome.request is None or outcome.request.is_expired(now):
            return outcome
        current = outcome.request
    return Transition(ok=False, request=current)
