"""`chime-bot audit`: read the trail the store keeps, from either backend.

Events are read through the RequestStore protocol (`audit_trail` for one request, else
`audit_events` for a time range) and joined with their requests, so the filters that name a
person (email, requester, approver) work on what the request says, not on what one event
happened to repeat. Output is a table for people, or JSON lines (`--format jsonl`) for a SIEM
or other tools: each field is described in docs/audit.md, and every text in it has its control
and format characters escaped as the logs escape them (bot/logs.py), so that a decoded line
holds none.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from bot.durations import NotADuration, parse_duration
from bot.logs import escape_controls
from bot.store import AuditEvent, InviteRequest, RequestStore
from bot.store.trail import within

# A decision by a person, as opposed to the requester filing or the system settling.
DECISIONS = frozenset({"approve_claimed", "approval_recorded", "denied", "retry_claimed"})
# Terminal control characters (and DEL, C1) in stored text must not reach a terminal raw: a
# reason could otherwise move the cursor, recolour or rewrite what an operator reads.
_DETAIL_WIDTH = 90


@dataclass(frozen=True, slots=True)
class AuditQuery:
    request_id: str | None = None
    email: str | None = None
    requester: str | None = None
    approver: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    event: AuditEvent
    request: InviteRequest | None  # None when the request item is gone (DynamoDB TTL)


def parse_time(text: str, *, now: datetime) -> float:
    """`2026-11-23`, `2026-11-23T10:00`, `…+02:00` or `…Z` (UTC unless an offset is given),
    or an age such as `90m`, `24h`, `7d`, `1d12h` (bot/durations.py) counted back from `now`.
    ValueError otherwise."""
    value = text.strip()
    try:
        return now.timestamp() - parse_duration(value)
    except NotADuration:
        pass  # not an age: a date or a time, then
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use 2026-11-23, 2026-11-23T10:00Z, or an age like 24h or 7d"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


async def read_audit(store: RequestStore, query: AuditQuery) -> list[AuditRow]:
    if query.request_id:
        events = [
            e
            for e in await store.audit_trail(query.request_id)
            if within(e.at, query.since, query.until)
        ]
    else:
        events = await store.audit_events(since=query.since, until=query.until)
    ids = sorted({e.request_id for e in events})
    requests = dict(zip(ids, await asyncio.gather(*(store.get(i) for i in ids)), strict=True))
    rows = [AuditRow(e, requests[e.request_id]) for e in events]
    keep = _matching_requests(rows, query)
    return [row for row in rows if row.event.request_id in keep]


def _matching_requests(rows: list[AuditRow], query: AuditQuery) -> set[str]:
    """The request IDs every person filter agrees on (all of them, with no filter)."""
    keep = {row.event.request_id for row in rows}
    if query.email:
        wanted = query.email.strip().lower()
        keep &= {r.event.request_id for r in rows if (_email(r) or "").lower() == wanted}
    if query.requester:
        keep &= {r.event.request_id for r in rows if _requester(r) == query.requester}
    if query.approver:
        keep &= {
            r.event.request_id
            for r in rows
            if (r.request is not None and r.request.decided_by == query.approver)
            or (r.event.actor == query.approver and r.event.action in DECISIONS)
        }
    return keep


def _email(row: AuditRow) -> str | None:
    # The "filed" event repeats the email, so a request deleted by TTL is still found by it.
    return row.request.email if row.request else row.event.detail.get("email")


def _requester(row: AuditRow) -> str | None:
    if row.request is not None:
        return row.request.requester
    return row.event.actor if row.event.action == "filed" else None


def json_lines(rows: Iterable[AuditRow]) -> Iterator[str]:
    """One JSON object per event (the fields docs/audit.md describes), texts escaped."""
    for row in rows:
        e = row.event
        yield json.dumps(
            _escaped(
                {
                    "at": _iso(e.at),
                    "ts": e.at if math.isfinite(e.at) else None,  # JSON has no NaN
                    "request_id": e.request_id,
                    "action": e.action,
                    "actor": e.actor,
                    "email": _email(row),
                    "requester": _requester(row),
                    "account": row.request.account_name
                    if row.request
                    else e.detail.get("account_name"),
                    "status": row.request.status.value if row.request else None,
                    # Which call the request stands for (issue 21): invite, suspend, ...
                    "change": row.request.change.value if row.request else None,
                    "detail": dict(e.detail),
                }
            ),
            ensure_ascii=False,
            sort_keys=True,
        )


def _escaped(value: object) -> object:
    """`value` with every text in it (detail keys too) escaped by bot/logs.escape_controls."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {escape_controls(str(k)): _escaped(v) for k, v in value.items()}
    return value


def stream(lines: Iterable[str], out: TextIO) -> int:
    """Write each line as soon as it is made (a SIEM reads it as it comes); 0, or 1 if the
    reader went away (a closed pipe), which is not an error worth a traceback."""
    try:
        for line in lines:
            out.write(line + "\n")
            out.flush()
    except BrokenPipeError:
        # Python would complain again flushing stdout at exit: point it at nothing instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 1
    return 0


def table(rows: list[AuditRow]) -> str:
    if not rows:
        return "No audit events match."
    header = ("TIME (UTC)", "REQUEST", "ACTION", "ACTOR", "EMAIL", "DETAIL")
    body = [
        (
            _iso(r.event.at)[:19].replace("T", " "),
            r.event.request_id,
            r.event.action,
            r.event.actor,
            _email(r) or "",
            _summary(r.event),
        )
        for r in rows
    ]
    cells = [tuple(escape_controls(c) for c in line) for line in [header, *body]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in cells
    ]
    requests = len({r.event.request_id for r in rows})
    lines.append(f"\n{_count(len(rows), 'event')}, {_count(requests, 'request')}.")
    return "\n".join(line.rstrip() for line in lines)


def _summary(event: AuditEvent) -> str:
    detail = dict(event.detail)
    parts = []
    if "from" in detail and "to" in detail:
        parts.append(f"{detail.pop('from')} -> {detail.pop('to')}")
    if event.action == "filed":
        # The email is its own column; account and reason say what was asked.
        detail = {k: detail[k] for k in ("account_name", "user_type", "reason") if k in detail}
    detail.pop("decided_at", None)
    detail.update(_result(detail.pop("result", "")))
    parts += [f"{k}={v}" for k, v in detail.items() if v not in ("", "None")]
    text = ", ".join(parts)
    return text if len(text) <= _DETAIL_WIDTH else text[: _DETAIL_WIDTH - 1] + "…"


def _result(text: str) -> dict[str, str]:
    """A stored result ({"user_id": ...}) as its own fields, so the user ID fits the column."""
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {"result": text}
    if not isinstance(parsed, dict):
        return {"result": text}
    return {str(k): str(v) for k, v in parsed.items()}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _iso(at: float) -> str:
    try:
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return repr(at)  # a nonsense timestamp is shown as it is stored, never a crash
