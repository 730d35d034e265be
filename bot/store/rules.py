"""Backend-neutral rules every store applies the same way.

Backends decide *how* a write is made atomic; this module decides *what* is written: whether a
move (bot/store/moves.py) or a recorded approval is allowed on the request as read, which fields
it changes, which audit event it produces and whether the write must re-check the deadline: a
`Plan`. Keeping it here is what lets a DynamoDB backend pass the same contract tests as SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.store.codec import Record, encode_approvals, from_record, stringify, to_record
from bot.store.model import SYSTEM, AuditEvent, InviteRequest, Status
from bot.store.moves import Move

AUDIT_LOGGER = "chime_bot.audit"
# The detail key, before the approver's ID, of an approval taken off as no longer counting.
LAPSED = "no longer counts: "

# Facts about a new request worth keeping in its "filed" event; ids and timestamps that the
# request row already carries are left out.
_FILED_DETAIL = (
    "email",
    "user_type",
    "account_id",
    "account_name",
    "account_type",
    "reason",
    "origin_channel",
    "expires_at",
    "approvals_required",
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one change writes, judged on the request as read. A backend writes exactly this in
    one atomic write, on condition that the request is still as read (and, if
    `require_unexpired`, that expires_at > judged_at, re-stated where the backend can compare)."""

    before: InviteRequest
    fields: Record  # the partial record written, encoded by the codec
    event: AuditEvent  # appended in the same write
    now: float
    require_unexpired: bool
    judged_at: float  # the instant compared with expires_at (Move.judged_at)

    @property
    def after(self) -> InviteRequest:
        return apply_fields(self.before, self.fields)


def plan_move(current: InviteRequest, move: Move) -> Plan | None:
    """What `move` writes on `current`, or None if the rules refuse it."""
    if not allows(current, move):
        return None
    fields = transition_fields(current, move)
    event = transition_event(current, fields, move)
    return Plan(current, fields, event, move.now, move.require_unexpired, move.judged_at)


def plan_approval(
    current: InviteRequest,
    approver: str,
    *,
    now: float,
    dropping: Mapping[str, str] | None = None,
) -> Plan | None:
    """What recording `approver`'s (not final) approval writes, or None if it may not be.

    `dropping`: earlier approvals that no longer count (approver -> why), taken off in the same
    write; those no longer recorded on this read are ignored."""
    dropped = {a: why for a, why in (dropping or {}).items() if a in current.approvals}
    kept = replace(current, approvals=tuple(a for a in current.approvals if a not in dropped))
    if not may_record_approval(kept, approver, now=now):
        return None
    fields = approval_fields(kept, approver, now=now)
    event = approval_event(kept, approver, now=now)
    event.detail.update((f"{LAPSED}{a}", why) for a, why in dropped.items())
    # A recorded approval is refused past the deadline: the write re-states it.
    return Plan(current, fields, event, now, True, now)


def lapsed_in(event: AuditEvent) -> dict[str, str]:
    """The approvals an "approval_recorded" event took off as no longer counting, with why."""
    if event.action != "approval_recorded":
        return {}
    return {k.removeprefix(LAPSED): v for k, v in event.detail.items() if k.startswith(LAPSED)}


def blocks_new_request(existing: InviteRequest, now: float) -> bool:
    """Whether `existing` stops the same person being requested again on the same account."""
    return existing.is_open and not existing.is_expired(now)


def allows(current: InviteRequest, move: Move) -> bool:
    if current.status not in move.expect:
        return False
    if is_approval_claim(current, move.to) and not completes_approvals(current, move.actor):
        return False
    if move.lease_over is not None and not current.lease_over(move.now, move.lease_over):
        return False
    if move.access_until is not None and not (
        current.access_running and current.access_until == move.access_until
    ):
        return False
    due = move.access_until is not None and move.access_until <= move.judged_at
    if move.access_due and not due:
        return False
    return not move.require_unexpired or current.expires_at > move.judged_at


def is_approval_claim(current: InviteRequest, to: Status) -> bool:
    """Whether this change is the final approval of a pending request (its execution claim)."""
    return current.status == Status.PENDING and to == Status.APPROVING


def completes_approvals(current: InviteRequest, approver: str) -> bool:
    """Whether `approver` approving now is the last approval `current` needs: the others are
    recorded, and all by people other than this one (the two-person rule)."""
    return (
        approver not in current.approvals
        and len(current.approvals) >= current.approvals_required - 1
    )


def may_record_approval(current: InviteRequest, approver: str, *, now: float) -> bool:
    """Whether `approver`'s approval may be recorded as one that is not the last."""
    return (
        current.status == Status.PENDING
        and current.expires_at > now
        and approver not in current.approvals
        and len(current.approvals) < current.approvals_required - 1
    )


def transition_fields(current: InviteRequest, move: Move) -> Record:
    """The record fields a move writes (a partial record, encoded by the codec)."""
    fields = move.fields
    fields["status"] = move.to.value
    fields["updated_at"] = float(move.now)
    if move.to == Status.APPROVING:
        # Counts claims, not successes: a retry after a failure is a second attempt.
        fields["attempts"] = current.attempts + 1
    if is_approval_claim(current, move.to):
        fields["approvals"] = encode_approvals((*current.approvals, move.actor))
    return fields


def approval_fields(current: InviteRequest, approver: str, *, now: float) -> Record:
    """What recording a (not final) approval writes: the approver list, and the time."""
    return {
        "status": current.status.value,  # unchanged: still pending, waiting for the rest
        "approvals": encode_approvals((*current.approvals, approver)),
        "updated_at": float(now),
    }


def approval_event(current: InviteRequest, approver: str, *, now: float) -> AuditEvent:
    detail = {
        "approvals": str(len(current.approvals) + 1),
        "approvals_required": str(current.approvals_required),
    }
    return AuditEvent(current.id, now, approver, "approval_recorded", detail)


def apply_fields(current: InviteRequest, fields: Record) -> InviteRequest:
    return from_record({**to_record(current), **fields})


def transition_event(before: InviteRequest, fields: Record, move: Move) -> AuditEvent:
    detail = {"from": before.status.value, "to": stringify(fields["status"])}
    detail.update(
        (name, stringify(value))
        for name, value in fields.items()
        if name not in ("status", "updated_at")
    )
    detail.update(move.detail)
    return AuditEvent(before.id, move.now, move.actor, move.action, detail)


def filed_event(request: InviteRequest, *, now: float) -> AuditEvent:
    record = to_record(request)
    detail = {name: stringify(record[name]) for name in _FILED_DETAIL}
    return AuditEvent(
        request_id=request.id, at=now, actor=request.requester, action="filed", detail=detail
    )


TOLD = "told"  # the audit action of a message claimed with `RequestStore.claim_message`


def told_event(request_id: str, message: str, *, now: float) -> AuditEvent:
    """The record that the one message named `message` about the request was claimed."""
    return AuditEvent(request_id, now, SYSTEM, TOLD, {"message": message})


def log_event(event: AuditEvent) -> None:
    """Mirror a committed audit event to the log as one structured line."""
    # Called only after the commit, so the log never claims something the table does not hold.
    logging.getLogger(AUDIT_LOGGER).info(
        event.action,
        extra={
            "request_id": event.request_id,
            "at": event.at,
            "actor": event.actor,
            "action": event.action,
            "detail": dict(event.detail),
        },
    )
