"""DynamoDB backend: one table shared by every replica, every state change one conditional write.

Items (one-table design; `pk` and `sk` are strings):

    request       pk = REQ#<id>             sk = REQUEST             + version, gsi1pk/gsi1sk, ttl
    audit event   pk = REQ#<id>             sk = AUDIT#<at>#<seq>    append-only, no ttl
    dedupe lock   pk = LOCK#<dedupe_key>    sk = LOCK                holder = <request id>
    reminder      pk = REQ#<id>             sk = REMINDER            holder, held_until, sent_at
    batch member  pk = BATCH#<batch_id>     sk = MEMBER#<id>         put when the request is filed
    write check   pk = META                 sk = WRITE_CHECK         touched by check_writable
    by requester  pk = BY#<requester>       sk = <created_at>#<id>   request_id (by_requester.py)

GSI `gsi1` (keys only) indexes request items by status: gsi1pk = STATUS#<status>, gsi1sk =
<created_at>#<id>, with created_at as fixed-width text that sorts like the float does.

Atomicity. Filing is one TransactWriteItems: put the request (if its id is new), put its "filed"
audit item and its by-requester item, put its batch member item if it is part of a bulk
invite, and take the lock for its (account, email) - new, or replacing a holder read as final or
lapsed, on condition that the lock still names that holder and (a ConditionCheck) the holder's
`version` is unchanged. A move (bot/store/moves.py) or a recorded approval is one
TransactWriteItems: update the request on condition that status, version and attempts are what
was read (and `expires_at > :now` when the plan asks), plus the audit item. `version` goes up by
one on every change, so a write based on a stale read always fails; the loser re-reads and
re-plans with the backend-neutral rules in rules.py. This is optimistic concurrency with the
same outcome as SQLite's write lock.

The duplicate check and find_open look at the lock's holder only. A holder is replaced only once
it no longer blocks (final, or pending past its deadline), and the bot never moves such a request
back to an open status (claims use require_unexpired), so "the holder blocks" is the same
question SQLite answers by scanning every request of that person and account. Replicas decide
"past its deadline" by their own clocks: keep them in sync (NTP), as skew moves the deadline.

Consistency. Every read of an item by key is strongly consistent. The GSI is not (DynamoDB
offers only eventual consistency on global indexes), so list_by_status uses it only to find
candidate ids and then reads those items with consistent BatchGetItem, keeping those whose status
still matches: a list never shows a stale status, though a change made within the last moment
may not be listed yet (the next sweep or listing sees it).

TTL. DynamoDB deletes an item some time (hours to days) after its `ttl` epoch second, so no
semantics here depend on it: expiry of a request is always computed from `expires_at` in code.
`ttl` only bounds storage:
    pending                  expires_at + RETENTION (a lapse nobody swept is still cleaned up)
    approving, failed        none: an open request someone may still retry is never deleted
    approved/denied/expired  max(decided, expires_at) + RETENTION
Audit items and locks carry no ttl: the trail is kept as SQLite keeps it, and a lock must
outlive any request that may still block (at worst one small item per person and account).

Numbers. DynamoDB numbers stop at 1e126 and below 1e-130; floats outside that range (never a
real timestamp) are stored as text, which the codec's float() reads back exactly.

One module because every method is a transaction over the single-table layout above, and the
layout can only be checked as a whole; the shared rules are in bot/store/base.py and the codec.
Splitting the audit and reminder items out is the next step if it grows further.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import secrets
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.aws import botocore_region
from bot.store import by_requester
from bot.store.base import DuplicateRequest, StoreError, StoreNotWritable, Transition
from bot.store.codec import (
    DEDUPE_KEY,
    Record,
    Scalar,
    dedupe_key,
    event_from_record,
    event_to_record,
    from_record,
    to_record,
)
from bot.store.model import OPEN_STATUSES, AuditEvent, InviteRequest, Status
from bot.store.moves import Move
from bot.store.rules import (
    Plan,
    blocks_new_request,
    filed_event,
    log_event,
    plan_approval,
    plan_move,
)

T = TypeVar("T")
AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

INDEX = "gsi1"
TTL_ATTRIBUTE = "ttl"
RETENTION_SECONDS = 30 * 86_400
DEFAULT_WORKERS = 8
# Each lost race means someone else's write landed; a request has only a handful of transitions
# in its life, so running out of attempts means something is badly wrong, not bad luck.
MAX_WRITE_ATTEMPTS = 10
_MAX_READ_ATTEMPTS = 8  # BatchGetItem rounds while the table hands back unprocessed keys
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

_REQUEST_SK = "REQUEST"
_REMINDER_SK = "REMINDER"
_LOCK_SK = "LOCK"
_META_KEY: Item = {"pk": {"S": "META"}, "sk": {"S": "WRITE_CHECK"}}
_NEW_ITEM = "attribute_not_exists(pk)"
_SIGN_BIT = 1 << 63
_ALL_BITS = (1 << 64) - 1
_MAX_TTL = 10**11  # year 5138: a later "deadline" is a nonsense timestamp, not a retention date
_BATCH_GET_LIMIT = 100
_BAD_CREDENTIALS = frozenset(
    {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}
)
_RUNTIME_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:TransactWriteItems",
)
# `chime-bot audit` reads the whole trail; the bot itself never scans.
_AUDIT_ACTIONS = ("dynamodb:Scan",)
_INIT_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:DescribeTimeToLive",
)

# What the bot's role needs (first statement), what `chime-bot init-store` needs (second) and
# what `chime-bot audit` needs (third).
# No DeleteItem: nothing here deletes; TTL deletions are made by DynamoDB itself. IAM authorizes
# each action inside a transaction by PutItem/UpdateItem/ConditionCheckItem; TransactWriteItems
# is listed as well for tools that expect it.
IAM_POLICY_TEMPLATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ChimeBotRequestStore",
                "Effect": "Allow",
                "Action": list(_RUNTIME_ACTIONS),
                "Resource": [
                    "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
                    "arn:aws:dynamodb:<region>:<account-id>:table/<table>/index/*",
                ],
            },
            {
                "Sid": "ChimeBotInitStore",
                "Effect": "Allow",
                "Action": list(_INIT_ACTIONS),
                "Resource": "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
            },
            {
                "Sid": "ChimeBotAudit",
                "Effect": "Allow",
                "Action": list(_AUDIT_ACTIONS),
                "Resource": "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
            },
        ],
    },
    indent=2,
)


def resolve_region(region: str | None = None) -> str:
    """`region` (the settings' AWS_REGION, resolved once in load_settings) or botocore's own
    chain; never a guess: a DynamoDB table lives in one region, and the wrong one is a table
    that seems not to exist."""
    found = region or botocore_region()
    if not found:
        raise StoreError(
            "no AWS region: set AWS_REGION (environment or .env), or a region in the AWS profile"
        )
    return found


def make_dynamodb_client(*, region: str, max_pool_connections: int) -> Any:
    """A DynamoDB client; botocore itself honours AWS_ENDPOINT_URL_DYNAMODB when it is set."""
    config = Config(
        region_name=region,
        # Standard mode retries throttling and TransactionInProgress; a retried transaction
        # reuses its ClientRequestToken, so a retry of a write that did land is not applied twice.
        retries={"mode": "standard"},
        max_pool_connections=max_pool_connections,
        connect_timeout=3,
        read_timeout=10,
    )
    return boto3.session.Session().client("dynamodb", config=config)


class DynamoStore:
    """RequestStore on one DynamoDB table. Create with `await DynamoStore.open(table)`."""

    def __init__(self, table: str, region: str, executor: ThreadPoolExecutor, client: Any) -> None:
        self._table = table
        self._region = region
        self._executor = executor
        # botocore clients are thread-safe; resources are not, so only the client is used.
        self._client = client
        self._closed = False
        self._last_ns = 0

    @classmethod
    async def open(
        cls, table: str, *, region: str | None = None, workers: int = DEFAULT_WORKERS
    ) -> DynamoStore:
        region = resolve_region(region)
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chime-dynamo")
        try:
            # Building a client reads botocore's JSON models from disk: keep it off the loop.
            client = await asyncio.get_running_loop().run_in_executor(
                executor,
                partial(make_dynamodb_client, region=region, max_pool_connections=workers),
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        store = cls(table, region, executor, client)
        try:
            # Fail at start-up, not at the first click, if the table is missing or foreign.
            await store._run(store._verify_table)
        except BaseException as exc:
            await store.close()
            if isinstance(exc, StoreError):
                raise StoreError(f"cannot open {exc}") from exc.__cause__
            raise
        return store

    @property
    def table(self) -> str:
        return self._table

    @property
    def url(self) -> str:
        return _url(self._table)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- the RequestStore protocol ---------------------------------------------------------

    async def file(self, request: InviteRequest, *, now: float) -> InviteRequest:
        stored = replace(request, updated_at=float(now))
        key = dedupe_key(stored.email, stored.account_id)
        event = filed_event(stored, now=now)
        item = _request_item(stored, version=0, now=now)
        audit = _audit_item(event, self._next_seq())
        for attempt in range(MAX_WRITE_ATTEMPTS):
            holder = await self._run(self._read_lock, key)
            current = holder.request
            if current is not None and blocks_new_request(current, now):
                raise DuplicateRequest(current)
            ops = self._filing_ops(item, audit, key, stored.id, holder)
            if stored.batch_id is not None:
                ops.append(self._put_op(_member_item(stored.batch_id, stored.id), _NEW_ITEM))
            # Last, so the request's own put stays first among the cancellation reasons.
            ops.append(self._put_op(by_requester.index_item(item), _NEW_ITEM))
            reasons = await self._run(self._transact, ops)
            if reasons is None:
                log_event(event)
                return stored
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise ValueError(f"request id {stored.id} already exists")
            await _pause(attempt, reasons)
        raise self._contended(f"filing {stored.id}")

    async def get(self, request_id: str) -> InviteRequest | None:
        item = await self._run(self._get, _request_key(request_id))
        return None if item is None else _request(item)

    async def find_open(self, email: str, account_id: str, *, now: float) -> InviteRequest | None:
        holder = await self._run(self._read_lock, dedupe_key(email, account_id))
        current = holder.request
        return current if current is not None and blocks_new_request(current, now) else None

    async def set_card(self, request_id: str, channel: str, ts: str) -> InviteRequest | None:
        item = await self._run(self._set_card, request_id, channel, ts)
        return None if item is None else _request(item)

    async def transition(self, request_id: str, move: Move) -> Transition:
        return await self._change(request_id, partial(plan_move, move=move), "changing")

    async def record_approval(self, request_id: str, *, approver: str, now: float) -> Transition:
        # The version condition is what makes "not already approved, and not the last" hold:
        # any approval recorded since this read moved the version on, so the write fails and
        # the loop re-reads and re-judges.
        judge = partial(plan_approval, approver=approver, now=now)
        return await self._change(request_id, judge, "recording an approval of")

    async def _change(
        self, request_id: str, judge: Callable[[InviteRequest], Plan | None], what: str
    ) -> Transition:
        """Read, `judge` (rules.plan_move or plan_approval; None: refused), and write the plan
        on condition nothing moved since the read."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            item = await self._run(self._get, _request_key(request_id))
            if item is None:
                return Transition(ok=False, request=None)
            current = _request(item)
            plan = judge(current)
            if plan is None:
                return Transition(ok=False, request=current)
            update = self._update_op(plan, _version(item))
            ops = [update, self._put_op(_audit_item(plan.event, self._next_seq()), _NEW_ITEM)]
            reasons = await self._run(self._transact, ops)
            if reasons is None:
                log_event(plan.event)
                return Transition(ok=True, request=plan.after)
            await _pause(attempt, reasons)
        raise self._contended(f"{what} {request_id}")

    async def count_open_by_requester(self, requester: str, *, now: float) -> int:
        # The status index has no requester key, so this reads the open requests (consistently)
        # and counts: they are few at chat-ops scale, and capped per person by this very count.
        return len(
            {
                r.counts_as
                for r in await self.list_open(now=now)
                if r.requester == requester and blocks_new_request(r, now)
            }
        )

    async def list_batch(self, batch_id: str) -> list[InviteRequest]:
        # The member items were written with their requests: a consistent Query finds them all.
        keys = await self._run(self._batch_keys, batch_id)
        return _oldest_first(_request(item) for item in await self._run(self._batch_get, keys))

    async def list_open(self, *, now: float) -> list[InviteRequest]:
        # `now` is unused, as in SQLite: expired-but-pending requests are listed, callers filter.
        lists = await asyncio.gather(*(self.list_by_status(s) for s in OPEN_STATUSES))
        return _oldest_first(r for listed in lists for r in listed)

    async def list_by_status(self, status: Status) -> list[InviteRequest]:
        status = Status(status)
        keys = await self._run(self._index_keys, status)
        items = await self._run(self._batch_get, keys)
        # The index may lag the table: the consistent read decides, stale entries drop out.
        current = (_request(item) for item in items)
        return _oldest_first(r for r in current if r.status == status)

    async def recent_by_requester(self, requester: str, *, limit: int) -> list[InviteRequest]:
        # bot/store/by_requester.py: one Query for the ids, then consistent reads.
        ids = await self._run(by_requester.newest_ids, self._client, self._table, requester, limit)
        items = await self._run(self._batch_get, [_request_key(i) for i in ids])
        return _oldest_first(_request(item) for item in items)[::-1]

    async def record(self, event: AuditEvent) -> None:
        await self._run(self._put, _audit_item(event, self._next_seq()), _NEW_ITEM)
        log_event(event)

    async def audit_trail(self, request_id: str) -> list[AuditEvent]:
        items = await self._run(self._audit_items, request_id)
        return [event_from_record(_plain_record(item)) for item in items]

    async def audit_events(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[AuditEvent]:
        items = await self._run(self._all_audit_items)
        found = [(event_from_record(_plain_record(item)), item["sk"]["S"]) for item in items]
        # The bounds are applied here, as SQLite compares floats, rather than in a filter
        # expression: a Scan reads (and is billed for) every item either way.
        kept = [
            (event, sk)
            for event, sk in found
            if (since is None or event.at >= since) and (until is None or event.at < until)
        ]
        # sk is AUDIT#<at>#<write sequence>: within one instant, the order of writing.
        return [event for event, _ in sorted(kept, key=lambda pair: (pair[0].at, pair[1]))]

    async def claim_reminder(
        self, request: InviteRequest, *, now: float, lease: float
    ) -> str | None:
        # A consistent read first: once a reminder is sent, later sweeps cost no write.
        held = await self._run(self._get, _reminder_key(request.id))
        if held is not None and "sent_at" in held:
            return None
        token = secrets.token_hex(8)
        expr = _Expression()
        # The request must still be pending and unexpired, checked in the same transaction, as
        # a decision's claim checks it; the reminder item must be new, or unsent and lapsed.
        pending = f"{expr.name('status')} = {expr.value('pending', Status.PENDING.value)}"
        if _fits_number(request.expires_at) and _fits_number(now):
            pending += f" AND {expr.name('expires_at')} > {expr.value('now', now)}"
        check = self._conditional({"Key": _request_key(request.id)}, pending, *expr.parts())
        expr = _Expression()
        sets: dict[str, Scalar] = {
            "kind": "reminder",
            "request_id": request.id,
            "holder": token,
            "held_until": now + lease,
        }
        ttl = _ttl(Status.PENDING, request.expires_at, now)
        if ttl is not None:
            sets[TTL_ATTRIBUTE] = ttl
        update = "SET " + ", ".join(
            f"{expr.name(name)} = {expr.value(name, value)}" for name, value in sets.items()
        )
        free = (
            f"attribute_not_exists(pk) OR (attribute_not_exists({expr.name('sent_at')}) AND "
            f"{expr.name('held_until')} <= {expr.value('now', now)})"
        )
        params = {"Key": _reminder_key(request.id), "UpdateExpression": update}
        ops = [
            {"ConditionCheck": check},
            {"Update": self._conditional(params, free, *expr.parts())},
        ]
        # Any refusal (a condition, or a transaction in flight on either item) loses this
        # sweep's race; the next sweep looks again.
        return token if await self._run(self._transact, ops) is None else None

    async def reminder_sent(self, request_id: str, event: AuditEvent) -> bool:
        expr = _Expression()
        update = (
            f"SET {expr.name('sent_at')} = {expr.value('at', event.at)} "
            f"REMOVE {expr.name('holder')}"
        )
        unsent = f"attribute_exists(pk) AND attribute_not_exists({expr.name('sent_at')})"
        return await self._reminder_write(request_id, update, unsent, expr, event)

    async def release_reminder(
        self, request_id: str, token: str, *, retry_at: float, event: AuditEvent
    ) -> bool:
        expr = _Expression()
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
        return await self._reminder_write(request_id, update, held, expr, event)

    async def _reminder_write(
        self, request_id: str, update: str, condition: str, expr: _Expression, event: AuditEvent
    ) -> bool:
        params = {"Key": _reminder_key(request_id), "UpdateExpression": update}
        ops = [
            {"Update": self._conditional(params, condition, *expr.parts())},
            self._put_op(_audit_item(event, self._next_seq()), _NEW_ITEM),
        ]
        for attempt in range(MAX_WRITE_ATTEMPTS):
            reasons = await self._run(self._transact, ops)
            if reasons is None:
                log_event(event)
                return True
            if "TransactionConflict" not in reasons:
                return False  # the condition failed: the claim is not (or no longer) ours
            await _pause(attempt, reasons)
        raise self._contended(f"recording the reminder of {request_id}")

    async def check_writable(self) -> None:
        try:
            await self._run(self._verify_table)
            await self._run(self._touch)
        except StoreError as exc:
            detail = str(exc).removeprefix(f"request store {self.url}: ")
            raise StoreNotWritable(f"request store {self.url} is not writable: {detail}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Calls already running finish before the connection pool goes away.
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    # ---- plumbing on the event loop --------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError(f"request store {self.url} is closed")
        loop = asyncio.get_running_loop()
        try:
            # A cancelled caller does not cancel the call: a write is never left half sent.
            return await loop.run_in_executor(self._executor, partial(fn, *args))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"request store {self.url}: {_explain(exc, self._region)}") from exc

    def _next_seq(self) -> str:
        """Orders audit events that share a timestamp by when they were written."""
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        # The random tail keeps keys from two writers in the same nanosecond apart.
        return f"{self._last_ns:020d}{secrets.token_hex(4)}"

    def _contended(self, what: str) -> StoreError:
        return StoreError(
            f"request store {self.url}: gave up {what} after {MAX_WRITE_ATTEMPTS} "
            "conflicting writes"
        )

    # ---- building writes -------------------------------------------------------------------

    def _put_op(self, item: Item, condition: str) -> dict[str, Any]:
        return {"Put": self._conditional({"Item": item}, condition, {}, {})}

    def _conditional(
        self,
        params: dict[str, Any],
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, AttributeValue],
    ) -> dict[str, Any]:
        params = {**params, "TableName": self._table, "ConditionExpression": condition}
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        if values:
            params["ExpressionAttributeValues"] = dict(values)
        return params

    def _filing_ops(
        self, item: Item, audit: Item, key: str, request_id: str, holder: _Holder
    ) -> list[dict[str, Any]]:
        ops = [self._put_op(item, _NEW_ITEM), self._put_op(audit, _NEW_ITEM)]
        lock = _lock_item(key, request_id)
        if holder.id is None:
            ops.append(self._put_op(lock, _NEW_ITEM))
            return ops
        # Replace the lock only if it still names the holder we judged, and that holder has not
        # moved since (a lapsed pending request claimed in between must win or lose cleanly).
        expr = _Expression()
        replace_lock = f"{expr.name('holder')} = {expr.value('holder', holder.id)}"
        ops.append({"Put": self._conditional({"Item": lock}, replace_lock, *expr.parts())})
        if holder.id != request_id:  # one transaction may not touch an item twice
            ops.append({"ConditionCheck": self._holder_check(holder.id, holder.item)})
        return ops

    def _holder_check(self, holder_id: str, item: Item | None) -> dict[str, Any]:
        key = {"Key": _request_key(holder_id)}
        if item is None:
            return self._conditional(key, _NEW_ITEM, {}, {})  # gone (TTL): must stay gone
        expr = _Expression()
        unchanged = f"{expr.name('version')} = {expr.value('version', _version(item))}"
        return self._conditional(key, unchanged, *expr.parts())

    def _update_op(self, plan: Plan, version: int) -> dict[str, Any]:
        current = plan.before
        to = Status(str(plan.fields["status"]))
        expr = _Expression()
        sets = {**plan.fields, "gsi1pk": _status_pk(to), "version": version + 1}
        ttl = _ttl(to, current.expires_at, plan.now)
        if ttl is not None:
            sets[TTL_ATTRIBUTE] = ttl
        update = "SET " + ", ".join(
            f"{expr.name(name)} = {expr.value('new_' + name, value)}"
            for name, value in sets.items()
        )
        if ttl is None:
            update += f" REMOVE {expr.name(TTL_ATTRIBUTE)}"
        terms = [
            f"{expr.name('status')} = {expr.value('was_status', current.status.value)}",
            f"{expr.name('version')} = {expr.value('was_version', version)}",
            f"{expr.name('attempts')} = {expr.value('was_attempts', current.attempts)}",
        ]
        # The rules already checked the deadline on a consistent read and expires_at never
        # changes; the condition re-states it where DynamoDB can compare.
        if plan.require_unexpired and _fits_number(current.expires_at) and _fits_number(plan.now):
            terms.append(f"{expr.name('expires_at')} > {expr.value('now', plan.now)}")
        params = {"Key": _request_key(current.id), "UpdateExpression": update}
        return {"Update": self._conditional(params, " AND ".join(terms), *expr.parts())}

    # ---- everything below runs on the executor ---------------------------------------------

    def _get(self, key: Item) -> Item | None:
        answer = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item: Item | None = answer.get("Item")
        return item

    def _put(self, item: Item, condition: str) -> None:
        self._client.put_item(**self._conditional({"Item": item}, condition, {}, {}))

    def _transact(self, ops: list[dict[str, Any]]) -> list[str] | None:
        """None if the transaction committed, else why each part was refused."""
        try:
            self._client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [str(reason.get("Code", "None")) for reason in reasons]
            if "ConditionalCheckFailed" in codes and self._landed(ops):
                return None
            return codes
        return None

    def _landed(self, ops: list[dict[str, Any]]) -> bool:
        """Whether a transaction refused on its conditions had in fact committed: botocore
        retries a TransactWriteItems whose answer was lost (a timeout, a 5xx) with the same
        ClientRequestToken, and DynamoDB answers that retry as if it were the first call
        (botocore's model: the token makes identical calls "have the same effect as one single
        call" for 10 minutes). A server that does not keep that promise (moto does not) refuses
        the retry on the conditions the first call made false. The audit item a transaction puts
        has a key no other write uses, so finding it means this very transaction committed."""
        for op in ops:
            item = op.get("Put", {}).get("Item")
            if item is not None and item.get("kind") == {"S": "audit"}:
                return self._get({"pk": item["pk"], "sk": item["sk"]}) is not None
        return False

    def _read_lock(self, key: str) -> _Holder:
        lock = self._get(_lock_key(key))
        if lock is None:
            return _Holder(id=None, item=None)
        holder_id = str(lock["holder"]["S"])
        return _Holder(id=holder_id, item=self._get(_request_key(holder_id)))

    def _set_card(self, request_id: str, channel: str, ts: str) -> Item | None:
        expr = _Expression()
        update = (
            f"SET {expr.name('card_channel')} = {expr.value('channel', channel)}, "
            f"{expr.name('card_ts')} = {expr.value('ts', ts)}"
        )
        params = {"Key": _request_key(request_id), "UpdateExpression": update}
        try:
            answer = self._client.update_item(
                **self._conditional(params, "attribute_exists(pk)", *expr.parts()),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        attributes: Item = answer["Attributes"]
        return attributes

    def _index_keys(self, status: Status) -> list[Item]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :status",
            ExpressionAttributeValues={":status": {"S": _status_pk(status)}},
        )
        return [{"pk": item["pk"], "sk": item["sk"]} for page in pages for item in page["Items"]]

    def _batch_keys(self, batch_id: str) -> list[Item]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
            ExpressionAttributeValues={
                ":pk": {"S": _batch_pk(batch_id)},
                ":member": {"S": "MEMBER#"},
            },
            ConsistentRead=True,
        )
        return [
            _request_key(str(item["request_id"]["S"])) for page in pages for item in page["Items"]
        ]

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        items: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            items.extend(self._batch_get_chunk(keys[start : start + _BATCH_GET_LIMIT]))
        return items

    def _batch_get_chunk(self, keys: list[Item]) -> list[Item]:
        items: list[Item] = []
        pending: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(_MAX_READ_ATTEMPTS):
            answer = self._client.batch_get_item(RequestItems=pending)
            items.extend(answer.get("Responses", {}).get(self._table, []))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                return items
            # Unprocessed keys mean the table is throttling us: back off before asking again.
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise StoreError(f"request store {self.url}: reads kept being throttled")

    def _audit_items(self, request_id: str) -> list[Item]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={
                ":pk": {"S": _request_pk(request_id)},
                ":audit": {"S": "AUDIT#"},
            },
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"]]

    def _all_audit_items(self) -> list[Item]:
        # No index reaches every request's events by time; an audit read is an operator's
        # occasional command, so one consistent Scan (dynamodb:Scan) is the honest cost.
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            FilterExpression="#kind = :audit",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={":audit": {"S": "audit"}},
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"]]

    def _verify_table(self) -> None:
        table = self._client.describe_table(TableName=self._table)["Table"]
        problem = _schema_problem(table)
        if problem is not None:
            raise StoreError(f"request store {self.url}: {problem}")

    def _touch(self) -> None:
        # A real conditional write; the condition keeps it from ever clobbering a request.
        expr = _Expression()
        update = (
            f"SET {expr.name('checked_at')} = {expr.value('now', time.time())}, "
            f"{expr.name('kind')} = {expr.value('kind', 'meta')}"
        )
        condition = f"attribute_not_exists(pk) OR {expr.name('kind')} = :kind"
        params = {"Key": _META_KEY, "UpdateExpression": update}
        self._client.update_item(**self._conditional(params, condition, *expr.parts()))

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        self._client.close()


@dataclass(frozen=True, slots=True)
class _Holder:
    """Who holds a dedupe lock, as read: the request id and its item (None if gone)."""

    id: str | None
    item: Item | None

    @property
    def request(self) -> InviteRequest | None:
        return None if self.item is None else _request(self.item)


@dataclass
class _Expression:
    """Placeholders for one expression: every attribute name and value goes through here."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, AttributeValue] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        # Always a placeholder: status, ttl and others are DynamoDB reserved words.
        self.names[f"#{attribute}"] = attribute
        return f"#{attribute}"

    def value(self, label: str, value: Scalar) -> str:
        self.values[f":{label}"] = _attr(value)
        return f":{label}"

    def parts(self) -> tuple[dict[str, str], dict[str, AttributeValue]]:
        return self.names, self.values


# ---- items and keys ------------------------------------------------------------------------


def _url(table: str) -> str:
    return f"dynamodb://{table}"


def _request_pk(request_id: str) -> str:
    return f"REQ#{request_id}"


def _status_pk(status: Status) -> str:
    return f"STATUS#{Status(status).value}"


def _request_key(request_id: str) -> Item:
    return {"pk": {"S": _request_pk(request_id)}, "sk": {"S": _REQUEST_SK}}


def _reminder_key(request_id: str) -> Item:
    return {"pk": {"S": _request_pk(request_id)}, "sk": {"S": _REMINDER_SK}}


def _batch_pk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def _member_item(batch_id: str, request_id: str) -> Item:
    return {
        "pk": {"S": _batch_pk(batch_id)},
        "sk": {"S": f"MEMBER#{request_id}"},
        "kind": {"S": "batch_member"},
        "request_id": {"S": request_id},
    }


def _lock_key(key: str) -> Item:
    return {"pk": {"S": f"LOCK#{key}"}, "sk": {"S": _LOCK_SK}}


def _request_item(request: InviteRequest, *, version: int, now: float) -> Item:
    item = _item(to_record(request))
    item.update(_request_key(request.id))
    item["kind"] = {"S": "request"}
    item["version"] = _attr(version)
    item["gsi1pk"] = {"S": _status_pk(request.status)}
    item["gsi1sk"] = {"S": f"{_sortable(request.created_at)}#{request.id}"}
    ttl = _ttl(request.status, request.expires_at, now)
    if ttl is not None:
        item[TTL_ATTRIBUTE] = _attr(ttl)
    return item


def _audit_item(event: AuditEvent, seq: str) -> Item:
    item = _item(event_to_record(event))
    item["pk"] = {"S": _request_pk(event.request_id)}
    item["sk"] = {"S": f"AUDIT#{_sortable(event.at)}#{seq}"}
    item["kind"] = {"S": "audit"}
    return item


def _lock_item(key: str, request_id: str) -> Item:
    return {
        **_lock_key(key),
        "kind": {"S": "lock"},
        "holder": {"S": request_id},
        DEDUPE_KEY: {"S": key},
    }


def _request(item: Item) -> InviteRequest:
    return from_record(_plain_record(item))


def _version(item: Item) -> int:
    return int(item["version"]["N"])


def _oldest_first(requests: Iterable[InviteRequest]) -> list[InviteRequest]:
    # SQLite's ORDER BY created_at, id (TEXT compares by code point, as Python's str does).
    return sorted(requests, key=lambda r: (r.created_at, r.id))


def _ttl(status: Status, expires_at: float, now: float) -> int | None:
    """The epoch second after which DynamoDB may delete a request item; None: keep it."""
    if status in OPEN_STATUSES and status != Status.PENDING:
        return None
    base = expires_at if status == Status.PENDING else max(expires_at, now)
    deadline = base + RETENTION_SECONDS
    if not math.isfinite(deadline) or not 0 < deadline < _MAX_TTL:
        return None
    return math.ceil(deadline)


# ---- attribute values ----------------------------------------------------------------------


def _fits_number(value: float) -> bool:
    """Whether DynamoDB's Number type can hold `value` (1e-130 <= |value| < 1e126, or zero)."""
    magnitude = abs(value)
    return magnitude == 0 or 1e-130 <= magnitude < 1e126


def _attr(value: Scalar) -> AttributeValue:
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    # repr() is the shortest text that reads back as the same float (17 digits at most).
    return {"N": repr(value)} if _fits_number(value) else {"S": repr(value)}


def _item(record: Record) -> Item:
    return {name: _attr(value) for name, value in record.items()}


def _plain(value: AttributeValue) -> Scalar | Decimal:
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return Decimal(value["N"])  # the codec turns it into float or int
    if "NULL" in value:
        return None
    raise StoreError(f"unexpected DynamoDB attribute type {sorted(value)}")


def _plain_record(item: Item) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.items()}


def _sortable(value: float) -> str:
    """Fixed-width hex of the float's bits, ordered as the floats are (total order)."""
    # `+ 0.0` turns -0.0 into 0.0: SQLite compares the two zeros as equal.
    (bits,) = struct.unpack(">Q", struct.pack(">d", float(value) + 0.0))
    ordered = bits ^ _ALL_BITS if bits & _SIGN_BIT else bits | _SIGN_BIT
    return f"{ordered:016x}"


# ---- errors and retries --------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _explain(exc: BaseException, region: str) -> str:
    if not isinstance(exc, ClientError):
        return str(exc)
    code = _code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    if code == "ResourceNotFoundException":
        return (
            f"the table does not exist in region {region} ({message}); "
            "create it with `chime-bot init-store`"
        )
    if code == "AccessDeniedException":
        return (
            f"the bot's AWS identity is not allowed ({code}: {message}); it needs "
            f"{', '.join(_RUNTIME_ACTIONS)} on the table and its indexes "
            "(see the IAM policy in the README)"
        )
    if code in _BAD_CREDENTIALS:
        return f"AWS rejected the bot's credentials ({code}: {message})"
    return f"{code}: {message}"


def _schema_problem(table: Mapping[str, Any]) -> str | None:
    """Why `table` cannot hold chime-bot's items, or None if it can."""
    name = table.get("TableName")
    keys = {k["AttributeName"]: k["KeyType"] for k in table.get("KeySchema", [])}
    if keys != {"pk": "HASH", "sk": "RANGE"}:
        return (
            f"table {name} has key schema {keys}, not pk (HASH) + sk (RANGE): it was not "
            "made by `chime-bot init-store`; point CHIME_STORE_URL at another table"
        )
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes") or []}
    if INDEX not in indexes:
        return f"table {name} has no index {INDEX}: run `chime-bot init-store` on a new table"
    return None


async def _pause(attempt: int, reasons: list[str]) -> None:
    """Between write attempts: at once after a lost condition, with jitter after a conflict."""
    # A failed condition means the item changed and a re-read shows how. TransactionConflict
    # means another transaction is in flight on it: give that one a moment to commit.
    if "TransactionConflict" in reasons:
        await asyncio.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))


# ---- init-store ----------------------------------------------------------------------------


def init_table(table: str, *, region: str | None = None, client: Any = None) -> list[str]:
    """Create the table (idempotently), wait until it is ACTIVE and enable TTL.

    Synchronous: it is a one-off admin command that waits on DynamoDB anyway. Returns one line
    per step saying what was done or found; raises StoreError with the reason if it cannot.
    `client` is for callers that already have one (it is left open); by default one is made
    for `region` (else botocore's region chain).
    """
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a DynamoDB table name: {table!r}")
    own = client is None
    if own:
        client = make_dynamodb_client(region=resolve_region(region), max_pool_connections=1)
    where = str(client.meta.region_name)
    try:
        return [
            _ensure_table(client, table, where),
            _wait_active(client, table),
            _ensure_ttl(client, table),
        ]
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"init-store {_url(table)}: {_explain_init(exc, where)}") from exc
    finally:
        if own:
            client.close()


def _ensure_table(client: Any, table: str, region: str) -> str:
    try:
        existing = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        return _create_table(client, table, region)
    problem = _schema_problem(existing)
    if problem is not None:
        raise StoreError(problem)
    billing = existing.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    return f"table {table} already exists in {region} ({billing}, index {INDEX})"


def _create_table(client: Any, table: str, region: str) -> str:
    strings = ("pk", "sk", "gsi1pk", "gsi1sk")
    try:
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in strings],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": INDEX,
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    # Keys only: listings re-read the items consistently anyway.
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise
        return f"table {table} is being created by someone else in {region}; waiting for it"
    return f"created table {table} in {region} (on-demand billing, index {INDEX})"


def _wait_active(client: Any, table: str) -> str:
    waiter = client.get_waiter("table_exists")
    waiter.wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    return f"table {table} is ACTIVE"


def _ensure_ttl(client: Any, table: str) -> str:
    described = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    status = described.get("TimeToLiveStatus", "DISABLED")
    attribute = described.get("AttributeName")
    if status in ("ENABLED", "ENABLING") and attribute == TTL_ATTRIBUTE:
        return f"TTL already {status.lower()} on attribute {TTL_ATTRIBUTE}"
    if status in ("ENABLED", "ENABLING"):
        # A table has one TTL attribute; changing someone else's choice is not ours to do.
        raise StoreError(
            f"table {table} already expires items by attribute {attribute!r}; chime-bot "
            f"needs {TTL_ATTRIBUTE!r}: use another table"
        )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return (
        f"enabled TTL on attribute {TTL_ATTRIBUTE} (finished requests are deleted about "
        f"{RETENTION_SECONDS // 86_400} days after they close)"
    )


def _explain_init(exc: BaseException, region: str) -> str:
    if isinstance(exc, ClientError) and _code(exc) == "AccessDeniedException":
        return (
            f"the AWS identity is not allowed ({_code(exc)}); init-store needs "
            f"{', '.join(_INIT_ACTIONS)} on the table"
        )
    return _explain(exc, region)
