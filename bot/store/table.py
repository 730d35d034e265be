"""DynamoDB: every call the store makes on its one table, each a synchronous botocore call that
bot/store/dynamodb.py runs on its executor, and every write with its condition.

Reads by key are strongly consistent. Each write carries the condition that makes it safe
against a rival replica (the layout is in bot/store/items.py):

- filing puts new items only, and takes the dedupe lock new, or from a holder that no longer
  blocks on condition that the lock still names it and the holder's `version` is unchanged;
- a planned change (bot/store/rules.py) updates the request on condition that its status,
  version and attempts are what was read, and that `expires_at > now` if the plan asks;
- every other write that appends to a request's trail (a recorded event, a reminder sent or
  released) moves the request's `version` on, on condition that it is what was read, so the
  version its audit item keeps is its place in the trail;
- a reminder is claimed on condition that its request is pending and unexpired, and that no
  other claim holds it;
- a message is claimed (`claim_message`) by putting its "told" item new, with its audit item.

`transact` counts a transaction refused on its conditions as done when its own audit item is
there: see `landed`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bot.backoff import backoff
from bot.store.admin import error_code, schema_problem, store_url
from bot.store.base import StoreError
from bot.store.items import (
    AUDIT_PREFIX,
    INDEX,
    MEMBER_PREFIX,
    META_KEY,
    NEW_ITEM,
    TTL_ATTRIBUTE,
    AttributeValue,
    Expression,
    Item,
    fits_number,
    index_pk,
    is_audit,
    key_of,
    lock_item,
    lock_key,
    reminder_key,
    request_key,
    request_of,
    request_pk,
    request_ttl,
    status_pks,
    trail_version,
    ttl,
    version_of,
)
from bot.store.model import InviteRequest, Status
from bot.store.rules import Plan

Op = dict[str, Any]  # one part of a TransactWriteItems

_BATCH_GET_LIMIT = 100
_MAX_READ_ATTEMPTS = 8  # BatchGetItem rounds while the table hands back unprocessed keys


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a dedupe lock, as read: the request id and its item (None if gone)."""

    id: str | None
    item: Item | None

    @property
    def request(self) -> InviteRequest | None:
        return None if self.item is None else request_of(self.item)


class Table:
    """One table, through a botocore client (thread-safe; resources are not, so only the
    client is used). Everything here blocks: call it off the event loop."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    @property
    def url(self) -> str:
        return store_url(self.name)

    # ---- building writes -------------------------------------------------------------------

    def conditional(
        self,
        params: dict[str, Any],
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, AttributeValue],
    ) -> dict[str, Any]:
        params = {**params, "TableName": self.name, "ConditionExpression": condition}
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        if values:
            params["ExpressionAttributeValues"] = dict(values)
        return params

    def put_op(self, item: Item, condition: str = NEW_ITEM) -> Op:
        return {"Put": self.conditional({"Item": item}, condition, {}, {})}

    def filing_ops(
        self, item: Item, audit: Item, key: str, request_id: str, holder: Holder
    ) -> list[Op]:
        ops = [self.put_op(item), self.put_op(audit)]
        lock = lock_item(key, request_id)
        if holder.id is None:
            ops.append(self.put_op(lock))
            return ops
        # Replace the lock only if it still names the holder we judged, and that holder has not
        # moved since (a lapsed pending request claimed in between must win or lose cleanly).
        expr = Expression()
        replace_lock = f"{expr.name('holder')} = {expr.value('holder', holder.id)}"
        ops.append({"Put": self.conditional({"Item": lock}, replace_lock, *expr.parts())})
        if holder.id != request_id:  # one transaction may not touch an item twice
            ops.append({"ConditionCheck": self._holder_check(holder.id, holder.item)})
        return ops

    def _holder_check(self, holder_id: str, item: Item | None) -> dict[str, Any]:
        key = {"Key": request_key(holder_id)}
        if item is None:
            return self.conditional(key, NEW_ITEM, {}, {})  # gone (TTL): must stay gone
        expr = Expression()
        unchanged = f"{expr.name('version')} = {expr.value('version', version_of(item))}"
        return self.conditional(key, unchanged, *expr.parts())

    def change_op(self, plan: Plan, version: int) -> Op:
        """The update that writes `plan` on the request item read at `version`."""
        current = plan.before
        expr = Expression()
        after = plan.after
        sets = {**plan.fields, "gsi1pk": index_pk(after), "version": version + 1}
        expiry = request_ttl(after, plan.now)
        if expiry is not None:
            sets[TTL_ATTRIBUTE] = expiry
        update = expr.sets(sets.items(), prefix="new_")
        if expiry is None:
            update += f" REMOVE {expr.name(TTL_ATTRIBUTE)}"
        terms = [
            f"{expr.name('status')} = {expr.value('was_status', current.status.value)}",
            f"{expr.name('version')} = {expr.value('was_version', version)}",
            f"{expr.name('attempts')} = {expr.value('was_attempts', current.attempts)}",
        ]
        # The rules already checked the deadline on a consistent read and expires_at never
        # changes; the condition re-states it where DynamoDB can compare.
        judged = plan.judged_at
        if plan.require_unexpired and fits_number(current.expires_at) and fits_number(judged):
            terms.append(f"{expr.name('expires_at')} > {expr.value('now', judged)}")
        params = {"Key": request_key(current.id), "UpdateExpression": update}
        return {"Update": self.conditional(params, " AND ".join(terms), *expr.parts())}

    def bump_op(self, request_id: str, version: int) -> Op:
        """Move the request item read at `version` on by one, changing nothing else: the place
        in the trail of an event that changes no field of the request."""
        expr = Expression()
        update = expr.sets([("version", version + 1)], prefix="new_")
        unchanged = f"{expr.name('version')} = {expr.value('was_version', version)}"
        params = {"Key": request_key(request_id), "UpdateExpression": update}
        return {"Update": self.conditional(params, unchanged, *expr.parts())}

    def reminder_claim_ops(
        self, request: InviteRequest, token: str, *, now: float, lease: float
    ) -> list[Op]:
        expr = Expression()
        # The request must still be pending and unexpired, checked in the same transaction, as
        # a decision's claim checks it; the reminder item must be new, or unsent and lapsed.
        pending = f"{expr.name('status')} = {expr.value('pending', Status.PENDING.value)}"
        if fits_number(request.expires_at) and fits_number(now):
            pending += f" AND {expr.name('expires_at')} > {expr.value('now', now)}"
        check = self.conditional({"Key": request_key(request.id)}, pending, *expr.parts())
        expr = Expression()
        sets: dict[str, Any] = {
            "kind": "reminder",
            "request_id": request.id,
            "holder": token,
            "held_until": now + lease,
        }
        expiry = ttl(Status.PENDING, request.expires_at, now)
        if expiry is not None:
            sets[TTL_ATTRIBUTE] = expiry
        free = (
            f"attribute_not_exists(pk) OR (attribute_not_exists({expr.name('sent_at')}) AND "
            f"{expr.name('held_until')} <= {expr.value('now', now)})"
        )
        params = {"Key": reminder_key(request.id), "UpdateExpression": expr.sets(sets.items())}
        return [
            {"ConditionCheck": check},
            {"Update": self.conditional(params, free, *expr.parts())},
        ]

    def reminder_sent_op(self, request_id: str, at: float) -> Op:
        expr = Expression()
        update = f"SET {expr.name('sent_at')} = {expr.value('at', at)} REMOVE {expr.name('holder')}"
        unsent = f"attribute_exists(pk) AND attribute_not_exists({expr.name('sent_at')})"
        return self._reminder_op(request_id, update, unsent, expr)

    def reminder_release_op(self, request_id: str, token: str, retry_at: float) -> Op:
        expr = Expression()
        failures = expr.name("failures")
        update = (
            f"SET {expr.name('held_until')} = {expr.value('retry_at', retry_at)}, "
            f"{failures} = if_not_exists({failures}, {expr.value('zero', 0)}) + "
            f"{expr.value('one', 1)} REMOVE {expr.name('holder')}"
        )
        held = (
            f"{expr.name('holder')} = {expr.value('token', token)} "
            f"AND attribute_not_exists({expr.name('sent_at')})"
        )
        return self._reminder_op(request_id, update, held, expr)

    def _reminder_op(self, request_id: str, update: str, condition: str, expr: Expression) -> Op:
        params = {"Key": reminder_key(request_id), "UpdateExpression": update}
        return {"Update": self.conditional(params, condition, *expr.parts())}

    # ---- calls -----------------------------------------------------------------------------

    def get(self, key: Item) -> Item | None:
        answer = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        item: Item | None = answer.get("Item")
        return item

    def put(self, item: Item, condition: str = NEW_ITEM) -> None:
        self.client.put_item(**self.conditional({"Item": item}, condition, {}, {}))

    def transact(self, ops: list[Op]) -> list[str] | None:
        """None if the transaction committed, else why each part was refused."""
        try:
            self.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [str(reason.get("Code", "None")) for reason in reasons]
            if "ConditionalCheckFailed" in codes and self.landed(ops):
                return None
            return codes
        return None

    def landed(self, ops: list[Op]) -> bool:
        """Whether a transaction refused on its conditions had in fact committed: botocore
        retries a TransactWriteItems whose answer was lost (a timeout, a 5xx) with the same
        ClientRequestToken, and DynamoDB answers that retry as if it were the first call
        (botocore's model: the token makes identical calls "have the same effect as one single
        call" for 10 minutes). A server that does not keep that promise (moto does not) refuses
        the retry on the conditions the first call made false. The audit item a transaction puts
        has a key no other write uses, so finding it means this very transaction committed."""
        for op in ops:
            item = op.get("Put", {}).get("Item")
            if item is not None and is_audit(item):
                return self.get(key_of(item)) is not None
        return False

    def read_lock(self, key: str) -> Holder:
        lock = self.get(lock_key(key))
        if lock is None:
            return Holder(id=None, item=None)
        holder_id = str(lock["holder"]["S"])
        return Holder(id=holder_id, item=self.get(request_key(holder_id)))

    def set_card(self, request_id: str, channel: str, ts: str) -> Item | None:
        expr = Expression()
        update = expr.sets([("card_channel", channel), ("card_ts", ts)])
        params = {"Key": request_key(request_id), "UpdateExpression": update}
        try:
            answer = self.client.update_item(
                **self.conditional(params, "attribute_exists(pk)", *expr.parts()),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        attributes: Item = answer["Attributes"]
        return attributes

    def partition_keys(self, partition: str) -> list[Item]:
        """The keys the status index lists under one partition (it may lag the table)."""
        paginator = self.client.get_paginator("query")
        return [
            key_of(item)
            for page in paginator.paginate(
                TableName=self.name,
                IndexName=INDEX,
                KeyConditionExpression="gsi1pk = :status",
                ExpressionAttributeValues={":status": {"S": partition}},
            )
            for item in page["Items"]
        ]

    def index_keys(self, status: Status) -> list[Item]:
        """The keys the status index lists (it may lag the table: read them consistently):
        invites and other changes, which it keeps apart (bot/store/items.py)."""
        return [key for partition in status_pks(status) for key in self.partition_keys(partition)]

    def batch_keys(self, batch_pk: str) -> list[Item]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
            ExpressionAttributeValues={":pk": {"S": batch_pk}, ":member": {"S": MEMBER_PREFIX}},
            ConsistentRead=True,
        )
        items = (item for page in pages for item in page["Items"])
        return [request_key(str(item["request_id"]["S"])) for item in items]

    def batch_get(self, keys: list[Item]) -> list[Item]:
        items: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            items.extend(self._batch_get_chunk(keys[start : start + _BATCH_GET_LIMIT]))
        return items

    def _batch_get_chunk(self, keys: list[Item]) -> list[Item]:
        items: list[Item] = []
        pending: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(_MAX_READ_ATTEMPTS):
            answer = self.client.batch_get_item(RequestItems=pending)
            items.extend(answer.get("Responses", {}).get(self.name, []))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                return items
            # Unprocessed keys mean the table is throttling us: back off before asking again.
            time.sleep(backoff(attempt, base=0.05, cap=1.0))
        raise StoreError(f"request store {self.url}: reads kept being throttled")

    def audit_items(self, request_id: str) -> list[Item]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={
                ":pk": {"S": request_pk(request_id)},
                ":audit": {"S": AUDIT_PREFIX},
            },
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"]]

    def next_trail_version(self, request_id: str) -> int:
        """The place for one more event in the trail of a request that has no item (never
        filed, or deleted by TTL): after its numbered events. Only such events are written for
        it; two written at once may share a number, and then go by key (time, then sequence)."""
        return 1 + max((trail_version(item) for item in self.audit_items(request_id)), default=-1)

    def all_audit_items(self) -> list[Item]:
        # No index reaches every request's events by time; an audit read is an operator's
        # occasional command, so one consistent Scan (dynamodb:Scan) is the honest cost.
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.name,
            FilterExpression="#kind = :audit",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={":audit": {"S": "audit"}},
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"]]

    def verify(self) -> None:
        """Raise StoreError if the table is missing or was not made by `init-store`."""
        described = self.client.describe_table(TableName=self.name)["Table"]
        problem = schema_problem(described)
        if problem is not None:
            raise StoreError(f"request store {self.url}: {problem}")

    def touch(self) -> None:
        """A real conditional write; the condition keeps it from ever clobbering a request."""
        expr = Expression()
        update = expr.sets([("checked_at", time.time()), ("kind", "meta")])
        condition = f"attribute_not_exists(pk) OR {expr.name('kind')} = :kind"
        params = {"Key": META_KEY, "UpdateExpression": update}
        self.client.update_item(**self.conditional(params, condition, *expr.parts()))

    def may_write(self) -> None:
        """touch's call under a condition that never holds, for `chime-bot check`, which only
        reads: IAM and the table still judge the UpdateItem (a missing permission is refused
        before any condition is evaluated), and nothing is written."""
        expr = Expression()
        update = expr.sets([("checked_at", time.time())])
        condition = "attribute_exists(pk) AND attribute_not_exists(pk)"
        params = {"Key": META_KEY, "UpdateExpression": update}
        try:
            self.client.update_item(**self.conditional(params, condition, *expr.parts()))
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
