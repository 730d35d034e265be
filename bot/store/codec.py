"""The one place that turns model objects into flat records and back.

A record is a dict of str/int/float/None: every backend can store it as-is (SQLite columns,
DynamoDB attributes) and none of them needs to know about dataclasses, enums or nested dicts.
Nested values are JSON text; timestamps are floats; the status is its string value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.store.model import AuditEvent, Change, InviteRequest, Status

Scalar = str | int | float | None
Record = dict[str, Scalar]

# Not a model field: derived so backends can look up and lock "one open request per person,
# account and kind of change" with a plain equality match instead of case-insensitive SQL.
DEDUPE_KEY = "dedupe_key"

REQUEST_FIELDS: tuple[str, ...] = (
    "id",
    "email",
    "user_type",
    "reason",
    "account_id",
    "account_name",
    "account_type",
    "requester",
    "origin_channel",
    "created_at",
    "expires_at",
    "status",
    "card_channel",
    "card_ts",
    "decided_by",
    "decided_at",
    "result",
    "error",
    "attempts",
    "updated_at",
    "approvals_required",
    "approvals",
    "batch_id",
    "lease_until",
    "change",
    "params",
    "access_until",
    "access_ended_at",
)
REQUEST_RECORD_FIELDS: tuple[str, ...] = (*REQUEST_FIELDS, DEDUPE_KEY)
EVENT_FIELDS: tuple[str, ...] = ("request_id", "at", "actor", "action", "detail")

# The fields a transition may change besides status/updated_at/attempts.
CHANGEABLE_FIELDS = frozenset(
    {"decided_by", "decided_at", "result", "error", "lease_until"}
    | {"access_until", "access_ended_at"}
)


def dedupe_key(email: str, account_id: str, change: Change = Change.INVITE) -> str:
    """The key of "one open request per person, account and kind of change" (issue 21).

    An invite's key is `<account>#<email>`, as it was before there were other changes: rows and
    DynamoDB lock items written by earlier builds hold it and must stay valid. Any other change
    adds `#<kind>`, so a suspension is never blocked by an open invite (or a license change by
    an open logout), while two open suspensions of one address on one account are.
    """
    # Account ids are UUIDs (no "#"), and a kind is one of Change's fixed words: an address
    # cannot end in "#suspend" (a domain holds no "#"), so no two keys coincide.
    base = f"{account_id}#{email.lower()}"
    return base if change == Change.INVITE else f"{base}#{Change(change).value}"


def to_record(request: InviteRequest) -> Record:
    return {
        "id": request.id,
        "email": request.email,
        "user_type": request.user_type,
        "reason": request.reason,
        "account_id": request.account_id,
        "account_name": request.account_name,
        "account_type": request.account_type,
        "requester": request.requester,
        "origin_channel": request.origin_channel,
        "created_at": float(request.created_at),
        "expires_at": float(request.expires_at),
        "status": Status(request.status).value,
        "card_channel": request.card_channel,
        "card_ts": request.card_ts,
        "decided_by": request.decided_by,
        "decided_at": _opt_float(request.decided_at),
        "result": _encode_mapping(request.result),
        "error": request.error,
        "attempts": int(request.attempts),
        "updated_at": float(request.updated_at),
        "approvals_required": int(request.approvals_required),
        "approvals": encode_approvals(request.approvals),
        "batch_id": request.batch_id,
        "lease_until": _opt_float(request.lease_until),
        "change": Change(request.change).value,
        # Never a secret (model.InviteRequest.params): this text is stored as it is.
        "params": _encode_mapping(request.params) or "{}",
        "access_until": _opt_float(request.access_until),
        "access_ended_at": _opt_float(request.access_ended_at),
        DEDUPE_KEY: dedupe_key(request.email, request.account_id, request.change),
    }


def from_record(record: Mapping[str, Any]) -> InviteRequest:
    # Numbers go through float()/int() because DynamoDB hands back Decimal.
    return InviteRequest(
        id=str(record["id"]),
        email=str(record["email"]),
        user_type=str(record["user_type"]),
        reason=str(record["reason"]),
        account_id=str(record["account_id"]),
        account_name=str(record["account_name"]),
        account_type=str(record["account_type"]),
        requester=str(record["requester"]),
        origin_channel=str(record["origin_channel"]),
        created_at=float(record["created_at"]),
        expires_at=float(record["expires_at"]),
        status=Status(record["status"]),
        card_channel=_opt_str(record.get("card_channel")),
        card_ts=_opt_str(record.get("card_ts")),
        decided_by=_opt_str(record.get("decided_by")),
        decided_at=_opt_float(record.get("decided_at")),
        result=_decode_mapping(record.get("result")),
        error=_opt_str(record.get("error")),
        attempts=int(record.get("attempts") or 0),
        updated_at=float(record.get("updated_at") or 0.0),
        # Absent in records written before the two-person rule (a DynamoDB item of an older
        # build): one approval, none recorded, which is what those requests were filed with.
        approvals_required=_int_or(record.get("approvals_required"), 1),
        approvals=decode_approvals(record.get("approvals")),
        batch_id=_opt_str(record.get("batch_id")),
        # Absent in records written before it: the lease is then judged from updated_at.
        lease_until=_opt_float(record.get("lease_until")),
        # Absent in records written before changes (issue 21): every one of those is an invite.
        change=Change(record.get("change") or Change.INVITE),
        params=_decode_mapping(record.get("params")) or {},
        # Absent in records written before time-bound access: none of those was time-bound.
        access_until=_opt_float(record.get("access_until")),
        access_ended_at=_opt_float(record.get("access_ended_at")),
    )


def event_to_record(event: AuditEvent) -> Record:
    return {
        "request_id": event.request_id,
        "at": float(event.at),
        "actor": event.actor,
        "action": event.action,
        "detail": _encode_mapping(event.detail) or "{}",
    }


def event_from_record(record: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        request_id=str(record["request_id"]),
        at=float(record["at"]),
        actor=str(record["actor"]),
        action=str(record["action"]),
        detail=_decode_mapping(record.get("detail")) or {},
    )


def encode_changes(changes: Mapping[str, Any]) -> Record:
    """The record fields for a transition's optional changes, encoded like `to_record` does."""
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise TypeError(f"transition cannot change {', '.join(sorted(unknown))}")
    encoders = {
        "decided_by": _opt_str,
        "decided_at": _opt_float,
        "result": _encode_mapping,
        "error": _opt_str,
        "lease_until": _opt_float,
        "access_until": _opt_float,
        "access_ended_at": _opt_float,
    }
    return {name: encoders[name](value) for name, value in changes.items()}


def encode_approvals(approvers: tuple[str, ...] | list[str]) -> str:
    """Who has approved, in order, as one JSON array text (a record holds only scalars)."""
    return json.dumps([str(a) for a in approvers], ensure_ascii=False)


def decode_approvals(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    decoded = json.loads(str(value))
    if not isinstance(decoded, list):
        raise ValueError(f"expected a JSON array of approvers, got {type(decoded).__name__}")
    return tuple(str(a) for a in decoded)


def stringify(value: Scalar) -> str:
    """How a record value reads in an audit event's detail (which is str -> str)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _encode_mapping(value: Mapping[str, str] | None) -> str | None:
    if value is None:
        return None
    # Sorted and not ASCII-escaped: stable text that stays readable in the sqlite3 shell.
    return json.dumps(
        {str(k): str(v) for k, v in value.items()}, ensure_ascii=False, sort_keys=True
    )


def _decode_mapping(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    decoded = json.loads(str(value))
    if not isinstance(decoded, dict):
        raise ValueError(f"expected a JSON object, got {type(decoded).__name__}")
    return {str(k): str(v) for k, v in decoded.items()}


def _int_or(value: object, default: int) -> int:
    return default if value is None else int(value)  # type: ignore[call-overload]


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
