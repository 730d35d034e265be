"""DynamoDB: how the store lays out its items in one table, and turns records into items and back.

Items (one-table design; `pk` and `sk` are strings):

    request       pk = REQ#<id>             sk = REQUEST             + version, gsi1pk/gsi1sk, ttl
    audit event   pk = REQ#<id>             sk = AUDIT#<at>#<seq>    + version; append-only, no ttl
    dedupe lock   pk = LOCK#<dedupe_key>    sk = LOCK                holder = <request id>
    reminder      pk = REQ#<id>             sk = REMINDER            holder, held_until, sent_at
    message told  pk = REQ#<id>             sk = TOLD#<message>      put once (claim_message)
    batch member  pk = BATCH#<batch_id>     sk = MEMBER#<id>         put when the request is filed
    write check   pk = META                 sk = WRITE_CHECK         touched by check_writable
    by requester  pk = BY#<requester>       sk = <created_at>#<id>   request_id (by_requester.py)
    open filings  pk = OPEN#<requester>     sk = OPEN                open, version (quota.py)

GSI `gsi1` (keys only) indexes request items by status: gsi1pk = STATUS#<status> for an invite,
CHANGE#<status> for any other change (below), ACCESS#running for an approved time-bound invite
whose end is not claimed yet (`list_time_bound`; it moves to STATUS#approved when the end is
claimed), gsi1sk = <created_at>#<id>, with created_at as fixed-width text that sorts like the
float does. Every
item has a `kind` (request, audit, lock, reminder, told, batch_member, by_requester,
open_filings, meta).

TTL. DynamoDB deletes an item some time (hours to days) after its `ttl` epoch second, so no
semantics depend on it: expiry of a request is always computed from `expires_at` in code.
`ttl` only bounds storage:
    pending                  expires_at + RETENTION (a lapse nobody swept is still cleaned up)
    approving, failed        none: an open request someone may still retry is never deleted
    approved/denied/expired  max(decided, expires_at) + RETENTION
    time-bound, running      none: its end must still be claimed (then as approved, from then)
Audit items, "told" items and locks carry no ttl: the trail (and what it says was told) is kept as
SQLite keeps it, and a lock must outlive any request that may still block (at worst one small item
per person, account and kind of change).

Audit order. The request item's `version` goes up by one on every write that appends to its
trail, on condition that it is still what was read, and the audit item keeps the version its
write made: the trail is ordered by it (`in_trail_order`), not by the key, whose <at> is only the
writer's clock. Audit items of a build before that number have no `version` and come first
(during a rolling upgrade, an event an old replica writes after a new one's still comes first).

Changes other than invites (issue 21) and builds before them. During a rolling upgrade a
replica of a build before changes shares the table, and its decoder (codec.from_record as it
was) ignores attributes it does not know: it would read a suspension as an invite, and could
CreateUser on its approval. So a request item of any other change is laid out so that such a
build cannot read it as an invite:
    - its user type is kept as `change_user_type`, with no `user_type` attribute: that
      decoder requires `user_type` and raises KeyError, so its `get` (a click on the card,
      which may reach any replica), a claim or a retry fails before any call to Chime;
    - it is indexed under CHANGE#<status>, not STATUS#<status>: that build's listings (expiry,
      reminder and recovery sweeps, the fair-use seed) query STATUS#<status> only, so they
      skip it rather than fail on it.
What still fails on such a build while a change is open: the App Home of its requester, and
filing by its requester (the fair-use item lists the change, and its requests are decoded).
Invites are laid out as they always were: items written by either build stay readable by both.

Numbers. DynamoDB numbers stop at 1e126 and below 1e-130; floats outside that range (never a
real timestamp) are stored as text, which the codec's float() reads back exactly.

The records themselves come from bot/store/codec.py, as for SQLite; this module adds only the
keys, the attributes DynamoDB needs around them and the attribute-value encoding.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.store.base import StoreError
from bot.store.codec import (
    DEDUPE_KEY,
    Record,
    Scalar,
    event_from_record,
    event_to_record,
    from_record,
    to_record,
)
from bot.store.model import OPEN_STATUSES, AuditEvent, Change, InviteRequest, Status

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

INDEX = "gsi1"
TTL_ATTRIBUTE = "ttl"
RETENTION_SECONDS = 30 * 86_400
# The condition of every put that must create its item, never replace one.
NEW_ITEM = "attribute_not_exists(pk)"
META_KEY: Item = {"pk": {"S": "META"}, "sk": {"S": "WRITE_CHECK"}}
AUDIT_PREFIX = "AUDIT#"
MEMBER_PREFIX = "MEMBER#"

_REQUEST_SK = "REQUEST"
_REMINDER_SK = "REMINDER"
_LOCK_SK = "LOCK"
_TOLD_PREFIX = "TOLD#"
_SIGN_BIT = 1 << 63
_ALL_BITS = (1 << 64) - 1
# Where an item of a change other than an invite keeps its `user_type` (see the docstring).
CHANGE_USER_TYPE = "change_user_type"
_MAX_TTL = 10**11  # year 5138: a later "deadline" is a nonsense timestamp, not a retention date


# ---- keys ----------------------------------------------------------------------------------


def request_pk(request_id: str) -> str:
    return f"REQ#{request_id}"


def status_pk(status: Status, change: Change = Change.INVITE) -> str:
    """The index partition of a request in `status`: apart for changes other than invites,
    which a build before them must not list (see the docstring)."""
    prefix = "STATUS#" if change == Change.INVITE else "CHANGE#"
    return f"{prefix}{Status(status).value}"


ACCESS_RUNNING = "ACCESS#running"


def index_pk(request: InviteRequest) -> str:
    """The index partition of `request` as it is: a running time-bound access apart, so the
    access sweep reads only those (and a build before it lists them under no status)."""
    return ACCESS_RUNNING if request.access_running else status_pk(request.status, request.change)


def status_pks(status: Status) -> tuple[str, ...]:
    """Every index partition that lists requests in `status`."""
    running = (ACCESS_RUNNING,) if Status(status) == Status.APPROVED else ()
    return status_pk(status), status_pk(status, Change.SUSPEND), *running


def batch_pk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def request_key(request_id: str) -> Item:
    return {"pk": {"S": request_pk(request_id)}, "sk": {"S": _REQUEST_SK}}


def reminder_key(request_id: str) -> Item:
    return {"pk": {"S": request_pk(request_id)}, "sk": {"S": _REMINDER_SK}}


def told_key(request_id: str, message: str) -> Item:
    return {"pk": {"S": request_pk(request_id)}, "sk": {"S": f"{_TOLD_PREFIX}{message}"}}


def told_item(request_id: str, message: str) -> Item:
    """The mark that the one message named `message` about the request was claimed: its key
    is the claim, so a second put of it fails its NEW_ITEM condition."""
    return {
        **told_key(request_id, message),
        "kind": {"S": "told"},
        "request_id": {"S": request_id},
    }


def lock_key(key: str) -> Item:
    return {"pk": {"S": f"LOCK#{key}"}, "sk": {"S": _LOCK_SK}}


def key_of(item: Item) -> Item:
    return {"pk": item["pk"], "sk": item["sk"]}


# ---- items ---------------------------------------------------------------------------------


def request_item(request: InviteRequest, *, version: int, now: float) -> Item:
    item = item_of(to_record(request))
    if request.change != Change.INVITE:
        # So that a build before changes refuses it rather than read an invite (docstring).
        item[CHANGE_USER_TYPE] = item.pop("user_type")
    item.update(request_key(request.id))
    item["kind"] = {"S": "request"}
    item["version"] = attr(version)
    item["gsi1pk"] = {"S": index_pk(request)}
    item["gsi1sk"] = {"S": f"{sortable(request.created_at)}#{request.id}"}
    expiry = request_ttl(request, now)
    if expiry is not None:
        item[TTL_ATTRIBUTE] = attr(expiry)
    return item


def audit_item(event: AuditEvent, seq: str, version: int) -> Item:
    """`seq` makes the key one no other write uses (the store numbers its writes); `version` is
    the request's version that the write putting this item makes (its place in the trail)."""
    item = item_of(event_to_record(event))
    item["pk"] = {"S": request_pk(event.request_id)}
    item["sk"] = {"S": f"{AUDIT_PREFIX}{sortable(event.at)}#{seq}"}
    item["kind"] = {"S": "audit"}
    item["version"] = attr(version)
    return item


def in_trail_order(items: Iterable[Item]) -> list[Item]:
    """One request's audit items in the order their writes took effect: by the version each
    write made. Items of an older build have none; they predate every numbered one, so they
    come first, in key order (time, then write sequence) as that build read them."""
    return sorted(items, key=lambda item: (trail_version(item), item["sk"]["S"]))


def trail_version(item: Item) -> int:
    """An audit item's place in its request's trail; -1 for an item of an older build."""
    return version_of(item) if "version" in item else -1


def is_audit(item: Item) -> bool:
    return item.get("kind") == {"S": "audit"}


def lock_item(key: str, request_id: str) -> Item:
    return {
        **lock_key(key),
        "kind": {"S": "lock"},
        "holder": {"S": request_id},
        DEDUPE_KEY: {"S": key},
    }


def member_item(batch_id: str, request_id: str) -> Item:
    return {
        "pk": {"S": batch_pk(batch_id)},
        "sk": {"S": f"{MEMBER_PREFIX}{request_id}"},
        "kind": {"S": "batch_member"},
        "request_id": {"S": request_id},
    }


def request_of(item: Item) -> InviteRequest:
    record = plain_record(item)
    if CHANGE_USER_TYPE in record:
        record["user_type"] = record.pop(CHANGE_USER_TYPE)
    return from_record(record)


def event_of(item: Item) -> AuditEvent:
    return event_from_record(plain_record(item))


def version_of(item: Item) -> int:
    return int(item["version"]["N"])


def oldest_first(requests: Iterable[InviteRequest]) -> list[InviteRequest]:
    # SQLite's ORDER BY created_at, id (TEXT compares by code point, as Python's str does).
    return sorted(requests, key=lambda r: (r.created_at, r.id))


def request_ttl(request: InviteRequest, now: float) -> int | None:
    """`ttl` of a request item as it is now: none while a time-bound access still runs."""
    if request.access_running:
        return None
    return ttl(request.status, request.expires_at, now)


def ttl(status: Status, expires_at: float, now: float) -> int | None:
    """The epoch second after which DynamoDB may delete a request item; None: keep it."""
    if status in OPEN_STATUSES and status != Status.PENDING:
        return None
    base = expires_at if status == Status.PENDING else max(expires_at, now)
    deadline = base + RETENTION_SECONDS
    if not math.isfinite(deadline) or not 0 < deadline < _MAX_TTL:
        return None
    return math.ceil(deadline)


# ---- attribute values ----------------------------------------------------------------------


def fits_number(value: float) -> bool:
    """Whether DynamoDB's Number type can hold `value` (1e-130 <= |value| < 1e126, or zero)."""
    magnitude = abs(value)
    return magnitude == 0 or 1e-130 <= magnitude < 1e126


def attr(value: Scalar) -> AttributeValue:
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    # repr() is the shortest text that reads back as the same float (17 digits at most).
    return {"N": repr(value)} if fits_number(value) else {"S": repr(value)}


def item_of(record: Record) -> Item:
    return {name: attr(value) for name, value in record.items()}


def plain(value: AttributeValue) -> Scalar | Decimal:
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return Decimal(value["N"])  # the codec turns it into float or int
    if "NULL" in value:
        return None
    raise StoreError(f"unexpected DynamoDB attribute type {sorted(value)}")


def plain_record(item: Item) -> dict[str, Any]:
    return {name: plain(value) for name, value in item.items()}


def sortable(value: float) -> str:
    """Fixed-width hex of the float's bits, ordered as the floats are (total order)."""
    # `+ 0.0` turns -0.0 into 0.0: SQLite compares the two zeros as equal.
    (bits,) = struct.unpack(">Q", struct.pack(">d", float(value) + 0.0))
    ordered = bits ^ _ALL_BITS if bits & _SIGN_BIT else bits | _SIGN_BIT
    return f"{ordered:016x}"


@dataclass
class Expression:
    """Placeholders for one expression: every attribute name and value goes through here."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, AttributeValue] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        # Always a placeholder: status, ttl and others are DynamoDB reserved words.
        self.names[f"#{attribute}"] = attribute
        return f"#{attribute}"

    def value(self, label: str, value: Scalar) -> str:
        self.values[f":{label}"] = attr(value)
        return f":{label}"

    def sets(self, values: Iterable[tuple[str, Scalar]], *, prefix: str = "") -> str:
        """`SET #a = :a, #b = :b` for these attributes (values labelled `prefix` + name)."""
        return "SET " + ", ".join(
            f"{self.name(name)} = {self.value(prefix + name, value)}" for name, value in values
        )

    def parts(self) -> tuple[dict[str, str], dict[str, AttributeValue]]:
        return self.names, self.values
