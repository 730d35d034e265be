"""Reading a whole store out and writing it into another, for `chime-bot migrate-store`.

A store is read as one `Exported` per request id: the request (None when only its trail is
left, e.g. DynamoDB deleted the request item by TTL), when its reminder was sent, and its whole
audit trail in trail order
(bot/store/trail.py), each event with `order`, its place in the order of writing as far as its
store knows one across requests (SQLite's `seq`, DynamoDB's write sequence in the audit key),
as fixed-width text that compares like that order.

Writing one `Exported` into a store (`put`) is all or nothing as seen by a later run: the
request and its trail go in together (SQLite: one transaction), or the trail first and the
request item last (DynamoDB, whose transactions are too small for a long trail; the audit items
have keys made from their source, so writing them again is writing the same items). A request
is therefore copied once it is there, and a run that stopped half-way is resumed by running it
again. Each backend keeps the trail's order: SQLite numbers the rows by `rank`, the event's
place in the source's order of writing; DynamoDB numbers them with the request's versions
0, 1, 2, ... and keeps `order` in the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.store.model import AuditEvent, InviteRequest

ORDER_WIDTH = 28  # 20 digits of a number, then 8 hex digits: DynamoDB's write sequence


@dataclass(frozen=True, slots=True)
class Written:
    event: AuditEvent
    order: str  # ORDER_WIDTH characters; compares like the source's order of writing
    rank: int = 0  # place among all events of the source by `order`, from 1 (set by the copier)


@dataclass(frozen=True, slots=True)
class Exported:
    request_id: str
    request: InviteRequest | None
    trail: tuple[Written, ...]
    # When its one reminder was sent, if it was: copied so that the reminder is not sent again.
    # A claim in flight or a failed post is not copied: the next sweep claims it afresh.
    reminded_at: float | None = None

    @property
    def events(self) -> list[AuditEvent]:
        return [w.event for w in self.trail]


class Transfer(Protocol):
    async def export(self) -> list[Exported]:
        """Every request and every trail in the store, by request id (a consistent read)."""
        ...

    async def put(self, exported: Exported, *, now: float) -> bool:
        """Write `exported` unless it is there already (False); `now` judges whether an open
        request holds its (email, account) against a duplicate."""
        ...

    def holds(self, exported: Exported, present: Exported | None) -> bool:
        """Whether `present` (what the store holds under that id) means `exported` is copied."""
        ...


def sequence_order(seq: int) -> str:
    """`order` of SQLite's seq: its number, padded like DynamoDB's write sequence."""
    return f"{seq:020d}{0:08x}"
