"""Backend-neutral rules every store applies the same way.

Backends decide *how* a write is made atomic; this module decides *what* is written: whether a
transition is allowed, which fields it changes, and which audit event it produces. Keeping it
here is what lets a DynamoDB backend pass the same contract tests as SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bot.store.codec import (
    Record,
    encode_approvals,
    encode_changes,
    from_record,
    stringify,
    to_record,
)
from bot.store.model import AuditEvent, InviteRequest, Status

AUDIT_LOGGER = "chime_bot.audit"

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


def normalize_expect(expect: Iterable[Status | str]) -> frozenset[Status]:
    statuses = frozenset(Status(s) for s in expect)
    if not statuses:
        raise ValueError("transition needs at least one expected status")
    return statuses


def blocks_new_request(existing: InviteRequest, now: float) -> bool:
    """Whether `existing` stops the same person being requested again on the same account."""
    return existing.is_open and not existing.is_expired(now)


def may_transition(
    current: InviteRequest,
    expect: frozenset[Status],
    *,
    now: float,
    require_unexpired: bool,
    to: Status,
    actor: str,
) -> bool:
    if current.status not in expect:
        return False
    if is_approval_claim(current, to) and not completes_approvals(current, actor):
        return False
    return not require_unexpired or current.expires_at > now


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


def transition_fields(
    current: InviteRequest, *, to: Status, now: float, changes: Mapping[str, Any], actor: str
) -> Record:
    """The record fields a transition writes (a partial record, encoded by the codec)."""
    fields = encode_changes(changes)
    fields["status"] = Status(to).value
    fields["updated_at"] = float(now)
    if to == Status.APPROVING:
        # Counts claims, not successes: a retry after a failure is a second attempt.
        fields["attempts"] = current.attempts + 1
    if is_approval_claim(current, to):
        fields["approvals"] = encode_approvals((*current.approvals, actor))
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


def transition_event(
    before: InviteRequest, fields: Record, *, actor: str, action: str, now: float
) -> AuditEvent:
    detail = {"from": before.status.value, "to": stringify(fields["status"])}
    detail.update(
        (name, stringify(value))
        for name, value in fields.items()
        if name not in ("status", "updated_at")
    )
    return AuditEvent(request_id=before.id, at=now, actor=actor, action=action, detail=detail)


def filed_event(request: InviteRequest, *, now: float) -> AuditEvent:
    record = to_record(request)
    detail = {name: stringify(record[name]) for name in _FILED_DETAIL}
    return AuditEvent(
        request_id=request.id, at=now, actor=request.requester, action="filed", detail=detail
    )


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
