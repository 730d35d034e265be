"""DynamoDB: the fair-use cap (CHIME_MAX_OPEN_PER_REQUESTER) held by a conditional write, so
that it holds across every replica sharing the table, not per replica.

One item per requester lists what they may still have open:

    open filings   pk = OPEN#<requester>    sk = OPEN    open = [<counts_as>, ...], version

Every filing (bot/store/dynamodb.py) reads it consistently, reads the requests it lists (a bulk
invite through its members), keeps those that still block a new request (open and not past
their deadline: once a request stops blocking it never blocks again, so dropping it is safe),
judges the cap on that count, and writes the list back with its own filing added, in the same
transaction as the request, on condition that the item's `version` is still the one read (or
that there is no item yet). Two replicas filing for one person at once both read version n; one
transaction commits, the other is refused on that condition, re-reads (now with the winner's
request, read consistently) and judges again. So the cap is never passed, whatever the number
of replicas: the count and the write are one atomic step, as SQLite's write lock makes them.

A bulk invite's later requests count as its first (`counts_as`): they neither read nor write
the item, so filing a batch's members at once does not make them race each other here.

The first filing of a requester with no item yet lists their open requests from the status
index (eventually consistent): that seeds the list with requests filed before this item existed
(a store from an older build, or one `migrate-store` wrote). No ttl: one small item per person.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.items import (
    Expression,
    Item,
    batch_pk,
    request_key,
    request_of,
    version_of,
)
from bot.store.model import OPEN_STATUSES, InviteRequest
from bot.store.rules import blocks_new_request
from bot.store.table import Op, Table

PREFIX = "OPEN#"


def quota_key(requester: str) -> Item:
    return {"pk": {"S": PREFIX + requester}, "sk": {"S": "OPEN"}}


@dataclass(frozen=True, slots=True)
class OpenFilings:
    """A requester's open filings as read, with the item's version (None: no item yet)."""

    requester: str
    held: tuple[str, ...]  # the counts_as of each filing still blocking, sorted
    version: int | None

    def admits(self, request: InviteRequest, max_open: int) -> bool:
        return request.counts_as in self.held or len(self.held) < max_open

    def write_op(self, calls: Table, request: InviteRequest) -> Op:
        """The list with `request` added, on condition nothing changed it since the read."""
        held = sorted({*self.held, request.counts_as})
        item: Item = {
            **quota_key(self.requester),
            "kind": {"S": "open_filings"},
            "requester": {"S": self.requester},
            "open": {"L": [{"S": counts_as} for counts_as in held]},
            "version": {"N": str(0 if self.version is None else self.version + 1)},
        }
        if self.version is None:
            return calls.put_op(item)  # new, on condition it still is
        expr = Expression()
        same = f"{expr.name('version')} = {expr.value('version', self.version)}"
        return {"Put": calls.conditional({"Item": item}, same, *expr.parts())}


def is_follower(request: InviteRequest) -> bool:
    """A bulk invite's request after its first: it counts as the first one."""
    return request.batch_id is not None and request.batch_id != request.id


def read_open_filings(calls: Table, requester: str, now: float) -> OpenFilings:
    """Blocking (run it on the store's executor): the item and the requests it lists."""
    item = calls.get(quota_key(requester))
    if item is None:
        keys = [key for status in OPEN_STATUSES for key in calls.index_keys(status)]
        version = None
    else:
        listed = [str(value["S"]) for value in item.get("open", {}).get("L", [])]
        keys = [request_key(counts_as) for counts_as in listed]
        version = version_of(item)
    requests = [request_of(found) for found in calls.batch_get(keys)]
    leads = [r.id for r in requests if r.batch_id == r.id and r.requester == requester]
    for lead in leads:
        # A batch is open while any of its requests is (one may have failed, another not).
        requests += [
            request_of(found) for found in calls.batch_get(calls.batch_keys(batch_pk(lead)))
        ]
    held = {
        r.counts_as for r in requests if r.requester == requester and blocks_new_request(r, now)
    }
    return OpenFilings(requester, tuple(sorted(held)), version)
