"""DynamoDB backend: one table shared by every replica, every state change one conditional write.

The item layout is in bot/store/items.py, every call and its condition in bot/store/table.py,
creating the table and its IAM policy in bot/store/admin.py. This module is the RequestStore on
top: what each operation reads, writes and retries, off the event loop. One module because
each method is one RequestStore operation, and its conditions are read side by side.

Atomicity. Filing is one TransactWriteItems: put the request (if its id is new), put its "filed"
audit item and its by-requester item, put its batch member item if it is part of a bulk invite,
write the requester's open filings for the fair-use cap (bot/store/quota.py, on condition they are
as read), and take the lock for its dedupe key (codec.dedupe_key: account, email and, for any
change but an invite, its kind) - new, or replacing a holder read as final or lapsed, on condition
that the lock still names that holder and (a ConditionCheck) the holder's `version` is unchanged. A
move (bot/store/moves.py) or a recorded approval is one TransactWriteItems: update the request on
condition that status, version and attempts are what was read (and `expires_at > :now` when the
plan asks), plus the audit item. `version` goes up by one on every change, so a write based on a
stale read always fails; the loser re-reads and re-plans with the backend-neutral rules in
rules.py. This is optimistic concurrency with the same outcome as SQLite's write lock.

Audit order. Every write that appends to a request's trail moves its `version` on (a recorded
event or a reminder's outcome with a bare conditional bump), and the audit item keeps the version
its write made: that, not the writer's clock, orders the trail (bot/store/trail.py).

The duplicate check and find_open look at the lock's holder only. A holder is replaced only once it
no longer blocks (final, or pending past its deadline), and the bot never moves such a request back
to an open status (claims use require_unexpired), so "the holder blocks" is the same question
SQLite answers by scanning every request of that person, account and kind of change. The one
exception is on both backends alike: a bulk invite's request whose lead was approved in time
follows it even past its own deadline (Move.follow), so a second request filed for that address in
the meantime meets an existing user in Chime, which refuses it; no second user is made. Replicas
decide "past its deadline" by their own clocks, with CHIME_MAX_CLOCK_SKEW of allowance, and not at
all while one is off AWS's clock by more (bot/aws_clock.py).

Consistency. Every read of an item by key is strongly consistent. The GSI is not (DynamoDB
offers only eventual consistency on global indexes), so list_by_status uses it only to find
candidate ids and then reads those items with consistent BatchGetItem, keeping those whose status
still matches: a list never shows a stale status, though a change made within the last moment
may not be listed yet (the next sweep or listing sees it).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from bot.backoff import backoff
from bot.store import by_requester
from bot.store.admin import explain, make_dynamodb_client, resolve_region
from bot.store.base import (
    DuplicateRequest,
    StoreError,
    StoreNotWritable,
    StoreUnanswered,
    TooManyOpen,
    Transition,
)
from bot.store.codec import dedupe_key
from bot.store.items import (
    ACCESS_RUNNING,
    Item,
    audit_item,
    batch_pk,
    event_of,
    in_trail_order,
    member_item,
    oldest_first,
    reminder_key,
    request_item,
    request_key,
    request_of,
    told_item,
    told_key,
    version_of,
)
from bot.store.model import OPEN_STATUSES, AuditEvent, Change, InviteRequest, Status
from bot.store.moves import Move
from bot.store.quota import is_follower, read_open_filings
from bot.store.rules import (
    Plan,
    blocks_new_request,
    filed_event,
    log_event,
    plan_approval,
    plan_move,
    told_event,
)
from bot.store.table import Op, Table
from bot.store.trail import in_time_order

T = TypeVar("T")

DEFAULT_WORKERS = 8
# Each lost race means someone else's write landed; a request has only a handful of changes in
# its life, so running out of attempts means something is badly wrong, not bad luck.
MAX_WRITE_ATTEMPTS = 10


class DynamoStore:
    """RequestStore on one DynamoDB table. Create with `await DynamoStore.open(table)`."""

    def __init__(self, table: str, region: str, executor: ThreadPoolExecutor, client: Any) -> None:
        self._region = region
        self._executor = executor
        self._client = client
        self.calls = Table(client, table)  # the table's calls, for tests to look at
        self._closed = False
        self._last_ns = 0

    @classmethod
    async def open(
        cls,
        table: str,
        *,
        region: str | None = None,
        workers: int = DEFAULT_WORKERS,
        watch: Callable[[Any], None] | None = None,
    ) -> DynamoStore:
        """`watch` is given the client's botocore event system before its first call (the
        bot measures its clock against the table's answers: bot/aws_clock.py)."""
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
        if watch is not None:
            watch(client.meta.events)
        store = cls(table, region, executor, client)
        try:
            # Fail at start-up, not at the first click, if the table is missing or foreign.
            await store.run(store.calls.verify)
        except BaseException as exc:
            await store.close()
            if isinstance(exc, StoreError):
                raise StoreError(f"cannot open {exc}") from exc.__cause__
            raise
        return store

    @property
    def table(self) -> str:
        return self.calls.name

    @property
    def url(self) -> str:
        return self.calls.url

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

    async def file(
        self, request: InviteRequest, *, now: float, max_open: int | None = None
    ) -> InviteRequest:
        stored = replace(request, updated_at=float(now))
        key = dedupe_key(stored.email, stored.account_id, stored.change)
        event = filed_event(stored, now=now)
        item = request_item(stored, version=0, now=now)
        audit = audit_item(event, self._next_seq(), version=0)
        calls = self.calls
        for attempt in range(MAX_WRITE_ATTEMPTS):
            holder = await self.run(calls.read_lock, key)
            current = holder.request
            if current is not None and blocks_new_request(current, now):
                raise DuplicateRequest(current)
            filings = None
            if not is_follower(stored):
                # The fair-use count and its conditional write (bot/store/quota.py).
                filings = await self.run(read_open_filings, calls, stored.requester, now)
                if max_open is not None and not filings.admits(stored, max_open):
                    raise TooManyOpen(len(filings.held))
            ops = calls.filing_ops(item, audit, key, stored.id, holder)
            if stored.batch_id is not None:
                ops.append(calls.put_op(member_item(stored.batch_id, stored.id)))
            # Last, so the request's own put stays first among the cancellation reasons.
            ops.append(calls.put_op(by_requester.index_item(item)))
            if filings is not None:
                ops.append(filings.write_op(calls, stored))
            reasons = await self.run(calls.transact, ops)
            if reasons is None:
                log_event(event)
                return stored
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise ValueError(f"request id {stored.id} already exists")
            await _pause(attempt, reasons)
        raise self._contended(f"filing {stored.id}")

    async def get(self, request_id: str) -> InviteRequest | None:
        item = await self.run(self.calls.get, request_key(request_id))
        return None if item is None else request_of(item)

    async def find_open(
        self, email: str, account_id: str, *, now: float, change: Change = Change.INVITE
    ) -> InviteRequest | None:
        holder = await self.run(self.calls.read_lock, dedupe_key(email, account_id, change))
        current = holder.request
        return current if current is not None and blocks_new_request(current, now) else None

    async def set_card(self, request_id: str, channel: str, ts: str) -> InviteRequest | None:
        item = await self.run(self.calls.set_card, request_id, channel, ts)
        return None if item is None else request_of(item)

    async def transition(self, request_id: str, move: Move) -> Transition:
        return await self._change(request_id, partial(plan_move, move=move), "changing")

    async def record_approval(
        self,
        request_id: str,
        *,
        approver: str,
        now: float,
        dropping: Mapping[str, str] | None = None,
    ) -> Transition:
        # The version condition is what makes "not already approved, and not the last" hold:
        # any approval recorded since this read moved the version on, so the write fails and
        # the loop re-reads and re-judges.
        judge = partial(plan_approval, approver=approver, now=now, dropping=dropping)
        return await self._change(request_id, judge, "recording an approval of")

    async def _change(
        self, request_id: str, judge: Callable[[InviteRequest], Plan | None], what: str
    ) -> Transition:
        """Read, `judge` (rules.plan_move or plan_approval; None: refused), and write the plan
        on condition nothing moved since the read."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            item = await self.run(self.calls.get, request_key(request_id))
            if item is None:
                return Transition(ok=False, request=None)
            current = request_of(item)
            plan = judge(current)
            if plan is None:
                return Transition(ok=False, request=current)
            version = version_of(item)
            ops = [
                self.calls.change_op(plan, version),
                self.calls.put_op(audit_item(plan.event, self._next_seq(), version + 1)),
            ]
            reasons = await self.run(self.calls.transact, ops)
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
        keys = await self.run(self.calls.batch_keys, batch_pk(batch_id))
        return oldest_first(request_of(item) for item in await self._read_all(keys))

    async def list_open(self, *, now: float) -> list[InviteRequest]:
        # `now` is unused, as in SQLite: expired-but-pending requests are listed, callers filter.
        lists = await asyncio.gather(*(self.list_by_status(s) for s in OPEN_STATUSES))
        return oldest_first(r for listed in lists for r in listed)

    async def list_by_status(self, status: Status) -> list[InviteRequest]:
        status = Status(status)
        keys = await self.run(self.calls.index_keys, status)
        # The index may lag the table: the consistent read decides, stale entries drop out.
        current = (request_of(item) for item in await self._read_all(keys))
        return oldest_first(r for r in current if r.status == status)

    async def list_time_bound(self) -> list[InviteRequest]:
        keys = await self.run(self.calls.partition_keys, ACCESS_RUNNING)
        current = (request_of(item) for item in await self._read_all(keys))
        return oldest_first(r for r in current if r.access_running)

    async def recent_by_requester(self, requester: str, *, limit: int) -> list[InviteRequest]:
        # bot/store/by_requester.py: one Query for the ids, then consistent reads.
        ids = await self.run(by_requester.newest_ids, self._client, self.table, requester, limit)
        items = await self._read_all([request_key(i) for i in ids])
        return oldest_first(request_of(item) for item in items)[::-1]

    async def record(self, event: AuditEvent) -> None:
        await self._append(event, None, f"recording an event of {event.request_id}")

    async def audit_trail(self, request_id: str) -> list[AuditEvent]:
        items = await self.run(self.calls.audit_items, request_id)
        return [event_of(item) for item in in_trail_order(items)]

    async def audit_events(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[AuditEvent]:
        # The bounds are applied after the Scan, as SQLite compares floats, and on whole trails:
        # where an event sorts depends on the events before it in its trail.
        trails: dict[str, list[Item]] = {}
        for item in await self.run(self.calls.all_audit_items):
            trails.setdefault(str(item["pk"]["S"]), []).append(item)
        # The key (AUDIT#<at>#<write sequence>) is the order of writing, as far as one is known
        # across requests.
        ordered = (
            [(event_of(item), str(item["sk"]["S"])) for item in in_trail_order(trail)]
            for trail in trails.values()
        )
        return in_time_order(ordered, since=since, until=until)

    async def claim_reminder(
        self, request: InviteRequest, *, now: float, lease: float
    ) -> str | None:
        # A consistent read first: once a reminder is sent, later sweeps cost no write.
        held = await self.run(self.calls.get, reminder_key(request.id))
        if held is not None and "sent_at" in held:
            return None
        token = secrets.token_hex(8)
        ops = self.calls.reminder_claim_ops(request, token, now=now, lease=lease)
        # Any refusal (a condition, or a transaction in flight on either item) loses this
        # sweep's race; the next sweep looks again.
        return token if await self.run(self.calls.transact, ops) is None else None

    async def reminder_sent(self, request_id: str, event: AuditEvent) -> bool:
        update = self.calls.reminder_sent_op(request_id, event.at)
        return await self._append(event, update, f"recording the reminder of {request_id}")

    async def release_reminder(
        self, request_id: str, token: str, *, retry_at: float, event: AuditEvent
    ) -> bool:
        update = self.calls.reminder_release_op(request_id, token, retry_at)
        return await self._append(event, update, f"releasing the reminder of {request_id}")

    async def claim_message(self, request_id: str, message: str, *, now: float) -> bool:
        # A consistent read first: a message already claimed costs no write.
        if await self.run(self.calls.get, told_key(request_id, message)) is not None:
            return False
        mark = self.calls.put_op(told_item(request_id, message))
        event = told_event(request_id, message, now=now)
        return await self._append(event, mark, f"claiming a message about {request_id}")

    async def _append(self, event: AuditEvent, update: Op | None, what: str) -> bool:
        """Put `event` in its request's trail, numbered with the version this write moves the
        request on to, in one transaction with `update` (a write of another item) if given;
        False if `update`'s own condition failed (nothing written)."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            item = await self.run(self.calls.get, request_key(event.request_id))
            ops = [] if update is None else [update]
            if item is None:
                version = await self.run(self.calls.next_trail_version, event.request_id)
            else:
                version = version_of(item) + 1
                ops.append(self.calls.bump_op(event.request_id, version - 1))
            ops.append(self.calls.put_op(audit_item(event, self._next_seq(), version)))
            reasons = await self.run(self.calls.transact, ops)
            if reasons is None:
                log_event(event)
                return True
            if update is not None and reasons[0] == "ConditionalCheckFailed":
                return False  # the reminder or message is not (or no longer) ours to write
            # Else the request moved on since the read (re-read), or a write is in flight.
            await _pause(attempt, reasons)
        raise self._contended(what)

    async def check_writable(self) -> None:
        try:
            await self.run(self.calls.verify)
            await self.run(self.calls.touch)
        except StoreError as exc:
            detail = str(exc).removeprefix(f"request store {self.url}: ")
            raise StoreNotWritable(f"request store {self.url} is not writable: {detail}") from exc

    async def check_writable_without_writing(self) -> None:
        """check_writable for `chime-bot check`: the same permissions judged, nothing written."""
        try:
            await self.run(self.calls.verify)
            await self.run(self.calls.may_write)
        except StoreError as exc:
            detail = str(exc).removeprefix(f"request store {self.url}: ")
            raise StoreNotWritable(f"request store {self.url} is not writable: {detail}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Calls already running finish before the connection pool goes away.
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    # ---- plumbing --------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError(f"request store {self.url} is closed")
        loop = asyncio.get_running_loop()
        try:
            # A cancelled caller does not cancel the call: a write is never left half sent.
            return await loop.run_in_executor(self._executor, partial(fn, *args))
        except (ClientError, BotoCoreError) as exc:
            message = f"request store {self.url}: {explain(exc, self._region)}"
            if unanswered(exc):
                raise StoreUnanswered(message) from exc
            raise StoreError(message) from exc

    async def _read_all(self, keys: list[Item]) -> list[Item]:
        return await self.run(self.calls.batch_get, keys)

    def _next_seq(self) -> str:
        """Keeps audit keys apart, in the order this store wrote them."""
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        # The random tail keeps keys from two writers in the same nanosecond apart.
        return f"{self._last_ns:020d}{secrets.token_hex(4)}"

    def _contended(self, what: str) -> StoreError:
        return StoreError(
            f"request store {self.url}: gave up {what} after {MAX_WRITE_ATTEMPTS} "
            "conflicting writes"
        )

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        self._client.close()


def unanswered(exc: BaseException) -> bool:
    """Whether DynamoDB's answer to a call is unknown: what botocore gave up retrying was no
    answer at all (connection refused, cut or timed out), a 5xx, or a reply it could not read.

    Even a connection that was never made says nothing of the attempts before it: botocore
    retries each of these, and an earlier attempt may have been carried out with its answer
    lost. A refusal DynamoDB did send (4xx) is an answer: nothing was written."""
    if isinstance(exc, (BotoConnectionError, HTTPClientError, ResponseParserError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status or 0) >= 500
    return False


async def _pause(attempt: int, reasons: list[str]) -> None:
    """Between write attempts: at once after a lost condition, with jitter after a conflict."""
    # A failed condition means the item changed and a re-read shows how. TransactionConflict
    # means another transaction is in flight on it: give that one a moment to commit.
    if "TransactionConflict" in reasons:
        await asyncio.sleep(backoff(attempt, base=0.01, cap=0.5))
