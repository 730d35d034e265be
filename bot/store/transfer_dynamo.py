"""DynamoDB: the whole table read out, and one request with its trail written in, for
`chime-bot migrate-store` (bot/store/transfer.py says what is read and written).

Reading is one consistent Scan of the request, audit and reminder items (dynamodb:Scan, as
`chime-bot audit` needs). Writing a request puts its audit items first, numbered with versions 0,
1, 2, ... in trail order and keyed with the source's order of writing (so the same event always has
the same key, and a second write of it is the same item), each "told" event with the item that
marks its message as claimed (so it is not sent again); then one transaction: the request item
(version = its last event's, on condition it is new), its by-requester and batch member items, its
reminder if one was sent, and, if it still blocks a duplicate, the dedupe lock for its (account,
email, change) - taken new or from a holder that no longer blocks, as filing takes it
(bot/store/table.py). Only PutItem, TransactWriteItems and reads: the bot's own IAM statement plus
Scan.
"""

from __future__ import annotations

from bot.store import by_requester
from bot.store.base import StoreError
from bot.store.codec import dedupe_key
from bot.store.dynamodb import DynamoStore
from bot.store.items import (
    AUDIT_PREFIX,
    TTL_ATTRIBUTE,
    Expression,
    Item,
    attr,
    audit_item,
    event_of,
    in_trail_order,
    lock_item,
    member_item,
    plain,
    reminder_key,
    request_item,
    request_key,
    request_of,
    told_item,
    ttl,
)
from bot.store.model import InviteRequest, Status
from bot.store.rules import TOLD, blocks_new_request
from bot.store.table import Op, Table
from bot.store.transfer import Exported, Written


class DynamoTransfer:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    async def export(self) -> list[Exported]:
        return _exported(await self.store.run(_scan, self.store.calls))

    async def put(self, exported: Exported, *, now: float) -> bool:
        store, calls = self.store, self.store.calls
        request = exported.request
        if request is not None and await store.run(calls.get, request_key(request.id)) is not None:
            return False
        for version, written in enumerate(exported.trail):
            await store.run(_put_plain, calls, _audit(written, version))
            if written.event.action == TOLD:  # a message already sent is not sent again
                told = told_item(written.event.request_id, written.event.detail["message"])
                await store.run(_put_plain, calls, told)
        if request is None:
            return True
        item = request_item(request, version=max(len(exported.trail) - 1, 0), now=now)
        ops = [calls.put_op(item), _plain_op(calls, by_requester.index_item(item))]
        if request.batch_id is not None:
            ops.append(_plain_op(calls, member_item(request.batch_id, request.id)))
        if exported.reminded_at is not None:
            ops.append(_plain_op(calls, _reminder(request, exported.reminded_at, now)))
        if blocks_new_request(request, now):
            key = dedupe_key(request.email, request.account_id, request.change)
            ops += await self._lock_ops(request.id, key, now)
        reasons = await store.run(calls.transact, ops)
        if reasons is None:
            return True
        if reasons[0] == "ConditionalCheckFailed":
            return False  # written meanwhile by another run
        raise StoreError(
            f"request store {store.url}: could not write {request.id} ({', '.join(reasons)}); "
            "run migrate-store again"
        )

    async def _lock_ops(self, request_id: str, key: str, now: float) -> list[Op]:
        calls = self.store.calls
        holder = await self.store.run(calls.read_lock, key)
        lock = lock_item(key, request_id)
        if holder.id is None:
            return [calls.put_op(lock)]
        current = holder.request
        if holder.id != request_id and current is not None and blocks_new_request(current, now):
            # The source cannot hold two open requests for one (email, account, change): this
            # one was filed in the destination itself.
            raise StoreError(
                f"request store {self.store.url}: {current.id} already holds the open request "
                f"for {current.email} on account {current.account_id}, which {request_id} "
                "from the source also holds; migrate into a store the bot has not used"
            )
        expr = Expression()
        same = f"{expr.name('holder')} = {expr.value('holder', holder.id)}"
        return [{"Put": calls.conditional({"Item": lock}, same, *expr.parts())}]

    def holds(self, exported: Exported, present: Exported | None) -> bool:
        # The request item is written last: with it, its trail is there. A trail on its own is
        # there once every one of its events is.
        if present is None:
            return False
        if exported.request is not None:
            return present.request is not None
        return len(present.trail) >= len(exported.trail)


def _audit(written: Written, version: int) -> Item:
    # The key is AUDIT#<at>#<order>: the source's order of writing, kept.
    return audit_item(written.event, written.order, version)


def _reminder(request: InviteRequest, sent_at: float, now: float) -> Item:
    """A reminder recorded as sent, as Table.reminder_sent_op leaves it (no holder)."""
    item: Item = {
        **reminder_key(request.id),
        "kind": {"S": "reminder"},
        "request_id": {"S": request.id},
        "held_until": attr(sent_at),
        "sent_at": attr(sent_at),
    }
    expiry = ttl(Status.PENDING, request.expires_at, now)
    if expiry is not None:
        item[TTL_ATTRIBUTE] = attr(expiry)
    return item


def _plain_op(calls: Table, item: Item) -> Op:
    # Put as it is, whether or not a run before this one put it already.
    return {"Put": {"TableName": calls.name, "Item": item}}


def _put_plain(calls: Table, item: Item) -> None:
    calls.client.put_item(TableName=calls.name, Item=item)


def _scan(calls: Table) -> list[Item]:
    pages = calls.client.get_paginator("scan").paginate(
        TableName=calls.name,
        FilterExpression="#kind IN (:request, :audit, :reminder)",
        ExpressionAttributeNames={"#kind": "kind"},
        ExpressionAttributeValues={
            ":request": {"S": "request"},
            ":audit": {"S": "audit"},
            ":reminder": {"S": "reminder"},
        },
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def _exported(items: list[Item]) -> list[Exported]:
    requests: dict[str, InviteRequest] = {}
    trails: dict[str, list[Item]] = {}
    reminded: dict[str, float] = {}
    for item in items:
        kind = item["kind"]["S"]
        if kind == "request":
            request = request_of(item)
            requests[request.id] = request
        elif kind == "reminder":
            if "sent_at" in item:
                reminded[str(item["request_id"]["S"])] = float(str(plain(item["sent_at"])))
        else:
            trails.setdefault(event_of(item).request_id, []).append(item)
    return [
        Exported(
            rid,
            requests.get(rid),
            tuple(Written(event_of(i), _order(i)) for i in in_trail_order(trails.get(rid, []))),
            reminded.get(rid) if rid in requests else None,
        )
        for rid in sorted(requests.keys() | trails.keys())
    ]


def _order(item: Item) -> str:
    """The write sequence in the key AUDIT#<at>#<sequence> (bot/store/items.py)."""
    key = str(item["sk"]["S"])
    return key.removeprefix(AUDIT_PREFIX).split("#", 1)[1]
