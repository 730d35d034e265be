"""The request decoder of the builds before issue 21 (`bot/store/codec.py` at 1096527), kept
verbatim so a test can show what such a build, sharing a DynamoDB table during a rolling
upgrade, makes of an item the current build writes. Do not update it: it stands for code that
is already deployed.
"""

# ruff: noqa

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.store.model import InviteRequest, Status


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
    )


def decode_approvals(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    decoded = json.loads(str(value))
    if not isinstance(decoded, list):
        raise ValueError(f"expected a JSON array of approvers, got {type(decoded).__name__}")
    return tuple(str(a) for a in decoded)


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
