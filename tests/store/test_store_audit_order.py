"""Contract tests for the order of the audit trail: a request's events in the order they took
effect, whatever the clocks of the replicas that wrote them said.

Each race is made deterministic with two store objects on one backing store: the second one
reads its clock first (an earlier `now`) and writes second, after the write it depended on.
Runs against SQLite and DynamoDB on moto's server, through the fixtures of the store contract.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import AuditEvent, DynamoStore, Move, RequestStore, Status
from bot.store.items import sortable
from tests.store.test_store_contract import (
    NOW,
    Backend,
    _raw_item,
    backend,
    claim,
    deny,
    dynamo_store,
    make_request,
    raw_dynamo,
    reminder_event,
    store,
)

pytest_plugins = ("tests.dynamo",)
__all__ = ["backend", "dynamo_store", "raw_dynamo", "store"]  # fixtures, used by name

LEASE = 600.0


def steps(events: list[AuditEvent]) -> list[tuple[str, float]]:
    return [(e.action, e.at) for e in events]


async def both_agree(one: RequestStore, two: RequestStore, request_id: str) -> list[AuditEvent]:
    """The trail as each store object reads it, which must be the same."""
    trail = await one.audit_trail(request_id)
    assert await two.audit_trail(request_id) == trail
    return trail


async def test_a_claim_follows_the_approval_it_needed_though_its_clock_read_earlier(
    backend: Backend,
) -> None:
    first, second = await backend.open(), await backend.open()
    request = await first.file(make_request(approvals_required=2), now=NOW)
    second_now = NOW + 1  # the second replica reads its clock...
    recorded = await first.record_approval(request.id, approver="UALICE", now=NOW + 2)
    assert recorded.ok
    # ...and writes after the first approval, which its claim needs.
    assert (await claim(second, request.id, "UBOB", now=second_now)).ok

    trail = await both_agree(first, second, request.id)

    # Timestamps stay as the clocks gave them; the order is the order of the writes.
    assert steps(trail) == [
        ("filed", NOW),
        ("approval_recorded", NOW + 2),
        ("approve_claimed", NOW + 1),
    ]
    assert await first.audit_events() == trail


async def test_a_recorded_event_follows_the_change_written_before_it(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    request = await first.file(make_request(), now=NOW)
    assert (await claim(first, request.id, "UALICE", now=NOW + 5)).ok
    refused = AuditEvent(request.id, NOW + 3, "UBOB", "refused", {"why": "decided"})
    await second.record(refused)
    finished = Move.finish(Status.APPROVED, "system", NOW + 4, result={"user_id": "u-1"})
    assert (await second.transition(request.id, finished)).ok

    trail = await both_agree(first, second, request.id)

    assert steps(trail) == [
        ("filed", NOW),
        ("approve_claimed", NOW + 5),
        ("refused", NOW + 3),
        ("approved", NOW + 4),
    ]


async def test_reminder_events_follow_the_decision_written_before_them(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    request = await first.file(make_request(), now=NOW)
    token = await second.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None
    failed = reminder_event(request.id, "reminder_failed", at=NOW + 2)
    assert (await deny(first, request.id, now=NOW + 9)).ok
    assert await second.release_reminder(request.id, token, retry_at=NOW + 5, event=failed)
    again = await second.claim_reminder(request, now=NOW + 5, lease=LEASE)
    assert again is None, "a denied request is not reminded"

    trail = await both_agree(first, second, request.id)

    assert steps(trail) == [("filed", NOW), ("denied", NOW + 9), ("reminder_failed", NOW + 2)]


async def test_audit_events_order_by_time_and_keep_each_request_in_its_order(
    backend: Backend,
) -> None:
    first, second = await backend.open(), await backend.open()
    early = await first.file(make_request(approvals_required=2), now=NOW)
    late = await first.file(make_request(email="bob@example.com"), now=NOW + 15)
    assert (await first.record_approval(early.id, approver="UALICE", now=NOW + 20)).ok
    assert (await claim(second, early.id, "UBOB", now=NOW + 10)).ok
    assert (await deny(first, late.id, now=NOW + 30)).ok

    every = await second.audit_events()

    assert [(e.request_id, e.action, e.at) for e in every] == [
        (early.id, "filed", NOW),
        (late.id, "filed", NOW + 15),
        (early.id, "approval_recorded", NOW + 20),
        # Shown as its clock stamped it, placed where it took effect: after what it needed.
        (early.id, "approve_claimed", NOW + 10),
        (late.id, "denied", NOW + 30),
    ]
    # The bounds select by the recorded time; what they keep stays in the same order.
    window = await second.audit_events(since=NOW + 10, until=NOW + 16)
    assert [(e.request_id, e.action) for e in window] == [
        (late.id, "filed"),
        (early.id, "approve_claimed"),
    ]
    assert await first.audit_events(since=NOW + 20) == [every[2], every[4]]


async def test_events_of_an_id_without_a_request_keep_the_order_they_were_written(
    store: RequestStore,
) -> None:
    for n, at in enumerate((NOW + 3, NOW + 1, NOW + 2)):
        await store.record(AuditEvent("REQ-UNKNOWN", at, "UX", "refused", {"n": str(n)}))

    trail = await store.audit_trail("REQ-UNKNOWN")

    assert [e.detail["n"] for e in trail] == ["0", "1", "2"]
    assert await store.audit_events() == trail


# --- DynamoDB-specific ----------------------------------------------------------------------


def _audit_items(client: Any, table: str, request_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"REQ#{request_id}"}, ":audit": {"S": "AUDIT#"}},
        ConsistentRead=True,
    )["Items"]
    return items


async def test_dynamodb_numbers_each_audit_item_with_the_version_its_write_made(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(approvals_required=2), now=NOW)
    assert (await dynamo_store.record_approval(request.id, approver="UALICE", now=NOW + 1)).ok
    await dynamo_store.record(AuditEvent(request.id, NOW + 2, "UBOB", "refused", {}))
    assert (await claim(dynamo_store, request.id, "UCAROL", now=NOW + 3)).ok

    numbered = {
        item["action"]["S"]: item["version"]["N"]
        for item in _audit_items(raw_dynamo, dynamo_table, request.id)
    }
    stored = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST")

    assert numbered == {
        "filed": "0",
        "approval_recorded": "1",
        "refused": "2",
        "approve_claimed": "3",
    }
    assert stored is not None and stored["version"] == {"N": "3"}


async def test_dynamodb_audit_items_of_an_older_build_read_and_come_first(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(), now=NOW)
    [filed] = _audit_items(raw_dynamo, dynamo_table, request.id)
    # As an older build wrote them: no version, keys ordered by time then write sequence.
    raw_dynamo.update_item(
        TableName=dynamo_table,
        Key={"pk": filed["pk"], "sk": filed["sk"]},
        UpdateExpression="REMOVE version",
    )
    at = NOW + 50
    raw_dynamo.put_item(
        TableName=dynamo_table,
        Item={
            "pk": {"S": f"REQ#{request.id}"},
            "sk": {"S": f"AUDIT#{sortable(at)}#{0:020d}00000000"},
            "kind": {"S": "audit"},
            "request_id": {"S": request.id},
            "at": {"N": repr(at)},
            "actor": {"S": "UBOB"},
            "action": {"S": "refused"},
            "detail": {"S": "{}"},
        },
    )
    # A newer build's write, stamped by a clock behind the old items' own.
    assert (await claim(dynamo_store, request.id, "UALICE", now=NOW + 10)).ok

    trail = await dynamo_store.audit_trail(request.id)

    assert steps(trail) == [("filed", NOW), ("refused", at), ("approve_claimed", NOW + 10)]
    assert await dynamo_store.audit_events() == trail


async def test_dynamodb_a_reminder_write_on_a_stale_read_re_reads_and_lands(
    dynamo_store: DynamoStore, dynamo_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = dynamo_store
    request = await second.file(make_request(), now=NOW)
    token = await second.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None
    calls = second.calls
    loop = asyncio.get_running_loop()
    stale_key = {"pk": {"S": f"REQ#{request.id}"}, "sk": {"S": "REQUEST"}}
    stale = await loop.run_in_executor(None, calls.get, stale_key)
    async with await DynamoStore.open(dynamo_table) as first:
        assert (await deny(first, request.id, now=NOW + 3)).ok
    reads: list[object] = []
    real_get = calls.get

    def get(key: Any) -> Any:
        if key != stale_key:
            return real_get(key)  # e.g. looking for its own audit item after a refusal
        reads.append(key)
        return stale if len(reads) == 1 else real_get(key)

    monkeypatch.setattr(calls, "get", get)

    assert await second.reminder_sent(request.id, reminder_event(request.id, at=NOW + 2))

    assert len(reads) == 2, "the stale version was refused by the write, then re-read"
    trail = await second.audit_trail(request.id)
    assert steps(trail) == [("filed", NOW), ("denied", NOW + 3), ("reminded", NOW + 2)]


async def test_dynamodb_a_retry_of_a_recorded_event_that_had_landed_counts_it_once(
    dynamo_store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dynamo_store.calls.client  # botocore's client: the boundary, not our code
    real = client.transact_write_items

    def answer_lost_then_retried(**kwargs: Any) -> Any:
        real(**kwargs)  # commits; its answer never arrives
        return real(**kwargs)  # botocore's retry, which moto judges as a new call

    request = await dynamo_store.file(make_request(), now=NOW)
    token = await dynamo_store.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None
    monkeypatch.setattr(client, "transact_write_items", answer_lost_then_retried)

    await dynamo_store.record(AuditEvent(request.id, NOW + 2, "UBOB", "refused", {}))
    assert await dynamo_store.reminder_sent(request.id, reminder_event(request.id, at=NOW + 3))

    actions = [e.action for e in await dynamo_store.audit_trail(request.id)]
    assert actions == ["filed", "refused", "reminded"]
