"""Contract tests for the two-person rule in the store: approvals that are not the last are
recorded (`record_approval`), the last one is the claim (`Move.claim_approval`), and
both are single conditional writes that hold across store objects and processes.

Runs against SQLite and DynamoDB on moto's server, through the fixtures of the store contract.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.store import DynamoStore, RequestStore, SqliteStore, Status, Transition
from bot.store.rules import lapsed_in
from bot.store.sqlite import SCHEMA_VERSION
from tests.store.test_store_contract import (
    NOW,
    TTL,
    Backend,
    _raw_item,
    backend,
    claim,
    deny,
    dynamo_store,
    make_request,
    raw_dynamo,
    run_children,
    store,
)

pytest_plugins = ("tests.dynamo",)
__all__ = ["backend", "dynamo_store", "raw_dynamo", "store"]  # fixtures, used by name


async def two_person(store: RequestStore, **overrides: object) -> str:
    request = await store.file(make_request(approvals_required=2, **overrides), now=NOW)
    return request.id


async def record(
    store: RequestStore, request_id: str, who: str, now: float = NOW + 1
) -> Transition:
    return await store.record_approval(request_id, approver=who, now=now)


async def test_both_fields_round_trip(store: RequestStore) -> None:
    request = make_request(approvals_required=2, approvals=("UALICE",))
    filed = await store.file(request, now=NOW)
    assert filed.approvals_required == 2 and filed.approvals == ("UALICE",)
    assert await store.get(request.id) == filed


async def test_one_approval_is_recorded_then_a_second_person_claims(store: RequestStore) -> None:
    rid = await two_person(store)

    first = await record(store, rid, "UALICE")
    assert first.ok and first.request is not None
    assert (first.request.status, first.request.approvals) == (Status.PENDING, ("UALICE",))
    assert first.request.attempts == 0, "a recorded approval claims nothing"

    claimed = await claim(store, rid, "UBOB", now=NOW + 2)
    assert claimed.ok and claimed.request is not None
    assert claimed.request.status is Status.APPROVING
    assert claimed.request.approvals == ("UALICE", "UBOB")
    assert claimed.request.decided_by == "UBOB" and claimed.request.attempts == 1
    assert await store.get(rid) == claimed.request

    trail = await store.audit_trail(rid)
    assert [(e.action, e.actor) for e in trail] == [
        ("filed", "UREQUESTER"),
        ("approval_recorded", "UALICE"),
        ("approve_claimed", "UBOB"),
    ]
    assert trail[0].detail["approvals_required"] == "2"
    assert trail[1].detail == {"approvals": "1", "approvals_required": "2"}


async def test_the_claim_waits_for_the_first_approval(store: RequestStore) -> None:
    rid = await two_person(store)

    early = await claim(store, rid, "UALICE")

    assert not early.ok and early.request is not None
    assert early.request.status is Status.PENDING and early.request.approvals == ()
    assert [e.action for e in await store.audit_trail(rid)] == ["filed"]


async def test_the_same_approver_never_counts_twice(store: RequestStore) -> None:
    rid = await two_person(store)
    assert (await record(store, rid, "UALICE")).ok

    again = await record(store, rid, "UALICE", now=NOW + 2)
    as_last = await claim(store, rid, "UALICE", now=NOW + 3)

    assert not again.ok and not as_last.ok
    current = await store.get(rid)
    assert current is not None
    assert (current.status, current.approvals) == (Status.PENDING, ("UALICE",))


async def test_no_approval_is_recorded_past_the_first_of_two(store: RequestStore) -> None:
    rid = await two_person(store)
    assert (await record(store, rid, "UALICE")).ok

    # The second approval must be the claim, never a second recorded approval.
    assert not (await record(store, rid, "UBOB")).ok
    one = await store.file(make_request(email="one@example.com"), now=NOW)
    assert not (await record(store, one.id, "UALICE")).ok, "a one-approval request has none"


async def test_no_approval_after_expiry_deny_or_claim(store: RequestStore) -> None:
    lapsed = await two_person(store, email="lapsed@example.com")
    assert not (await record(store, lapsed, "UALICE", now=NOW + TTL)).ok

    denied = await two_person(store, email="denied@example.com")
    assert (await record(store, denied, "UALICE")).ok
    assert (await deny(store, denied, now=NOW + 2)).ok
    assert not (await record(store, denied, "UBOB", now=NOW + 3)).ok
    assert not (await claim(store, denied, "UBOB", now=NOW + 3)).ok

    half = await two_person(store, email="half@example.com")
    assert (await record(store, half, "UALICE")).ok
    assert not (await claim(store, half, "UBOB", now=NOW + TTL)).ok, "expired half-way"
    unknown = await record(store, "REQ-AAAAAAAAAA", "UALICE")
    assert unknown == Transition(ok=False, request=None)


async def test_two_approvers_at_once_on_two_store_objects_one_claim(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    rid = await two_person(one)

    async def approve(store: RequestStore, who: str) -> str:
        # What Approvals.decide does: record unless this is the last approval, else claim.
        for _ in range(3):
            current = await store.get(rid)
            assert current is not None
            if len(current.approvals) < current.approvals_required - 1:
                if (await record(store, rid, who)).ok:
                    return "recorded"
            elif (await claim(store, rid, who)).ok:
                return "claimed"
            else:
                return "lost"
        return "lost"

    outcomes = await asyncio.gather(
        *(approve((one, two)[i % 2], who) for i, who in enumerate(["UALICE", "UBOB"] * 5))
    )

    assert sorted(set(outcomes)) == ["claimed", "lost", "recorded"]
    assert outcomes.count("claimed") == 1 and outcomes.count("recorded") == 1
    final = await two.get(rid)
    assert final is not None
    assert final.status is Status.APPROVING and final.attempts == 1
    assert sorted(final.approvals) == ["UALICE", "UBOB"]
    actions = [e.action for e in await two.audit_trail(rid)]
    assert actions == ["filed", "approval_recorded", "approve_claimed"]


LAPSED = {"UALICE": "no longer an approver"}


async def test_an_approval_that_no_longer_counts_is_taken_off_as_another_is_recorded(
    store: RequestStore,
) -> None:
    rid = await two_person(store)
    assert (await record(store, rid, "UALICE")).ok

    # Alice has lost the right since: Bob's approval is recorded instead of claiming.
    bob = await store.record_approval(rid, approver="UBOB", now=NOW + 2, dropping=LAPSED)
    assert bob.ok and bob.request is not None
    assert (bob.request.status, bob.request.approvals) == (Status.PENDING, ("UBOB",))
    assert bob.request.attempts == 0 and await store.get(rid) == bob.request
    trail = await store.audit_trail(rid)
    assert [(e.action, e.actor) for e in trail][-1] == ("approval_recorded", "UBOB")
    assert lapsed_in(trail[-1]) == LAPSED and lapsed_in(trail[1]) == {}
    assert trail[-1].detail["approvals"] == "1"

    # The claim now needs someone other than Bob: Carol completes it.
    assert not (await claim(store, rid, "UBOB", now=NOW + 3)).ok
    carol = await claim(store, rid, "UCAROL", now=NOW + 3)
    assert carol.ok and carol.request is not None
    assert carol.request.status is Status.APPROVING
    assert carol.request.approvals == ("UBOB", "UCAROL")


async def test_dropping_only_takes_off_approvals_still_recorded(store: RequestStore) -> None:
    rid = await two_person(store)
    # Nothing recorded: the drop names no one there, and this is a plain recorded approval.
    first = await store.record_approval(rid, approver="UBOB", now=NOW + 1, dropping=LAPSED)
    assert first.ok and first.request is not None and first.request.approvals == ("UBOB",)
    (_, event) = await store.audit_trail(rid)
    assert lapsed_in(event) == {}
    # Bob's own approval is the one recorded: a drop of someone else never makes room for a
    # second recorded approval of a two-person request.
    assert not (
        await store.record_approval(rid, approver="UCAROL", now=NOW + 2, dropping=LAPSED)
    ).ok
    # Nor does one past the deadline.
    late = await two_person(store, email="late@example.com")
    assert (await record(store, late, "UALICE")).ok
    assert not (
        await store.record_approval(late, approver="UBOB", now=NOW + TTL, dropping=LAPSED)
    ).ok


async def test_two_approvers_dropping_the_same_lapsed_approval_at_once_one_wins(
    backend: Backend,
) -> None:
    one, two = await backend.open(), await backend.open()
    rid = await two_person(one)
    assert (await record(one, rid, "UALICE")).ok

    bob, carol = await asyncio.gather(
        one.record_approval(rid, approver="UBOB", now=NOW + 2, dropping=LAPSED),
        two.record_approval(rid, approver="UCAROL", now=NOW + 2, dropping=LAPSED),
    )

    assert sorted([bob.ok, carol.ok]) == [False, True]
    final = await two.get(rid)
    assert final is not None and final.status is Status.PENDING
    assert final.approvals in (("UBOB",), ("UCAROL",))
    recorded = [e for e in await one.audit_trail(rid) if e.action == "approval_recorded"]
    assert [lapsed_in(e) for e in recorded] == [{}, LAPSED]


_CHILD = """
import asyncio, sys
from pathlib import Path
from bot.store import Move, open_store

async def main() -> None:
    url, data_dir, request_id, name = sys.argv[1:5]
    store = await open_store(url, data_dir=Path(data_dir))
    print("ready", flush=True)
    sys.stdin.readline()
    recorded = await asyncio.gather(*(
        store.record_approval(request_id, approver=name, now=2.0) for _ in range(10)
    ))
    claimed = await asyncio.gather(*(
        store.transition(request_id, Move.claim_approval(name, 2.0)) for _ in range(10)
    ))
    await store.close()
    print(sum(o.ok for o in recorded), sum(o.ok for o in claimed), flush=True)

asyncio.run(main())
"""


async def test_two_processes_each_approve_ten_times_one_claim(
    backend: Backend, store: RequestStore
) -> None:
    # Filed at 1.0 so the children's `now` of 2.0 is before the deadline.
    request = await store.file(
        make_request(approvals_required=2, created_at=1.0, expires_at=1.0 + TTL), now=1.0
    )
    results = await run_children(backend, _CHILD, request.id)

    counts = [tuple(int(n) for n in out.split()) for out in results]
    # Each process records before it claims, so whichever records second finds the first's
    # approval and can only claim: one approval recorded, one claim, by different processes.
    assert sorted(counts) == [(0, 1), (1, 0)]
    final = await store.get(request.id)
    assert final is not None
    assert final.status is Status.APPROVING and final.attempts == 1
    assert sorted(final.approvals) == ["UPROCA", "UPROCB"]
    trail = [e.action for e in await store.audit_trail(request.id)]
    assert trail == ["filed", "approval_recorded", "approve_claimed"]


async def test_sqlite_upgrades_a_version_2_store_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as old:
        request = await old.file(make_request(), now=NOW)
    raw = sqlite3.connect(path, isolation_level=None)
    # As a version-2 build left it: no approval columns.
    raw.execute("ALTER TABLE requests DROP COLUMN approvals")
    raw.execute("ALTER TABLE requests DROP COLUMN approvals_required")
    raw.execute("PRAGMA user_version = 2")
    raw.close()

    async with await SqliteStore.open(path) as upgraded:
        got = await upgraded.get(request.id)
        assert got == request and (got.approvals_required, got.approvals) == (1, ())
        assert (await claim(upgraded, request.id, "UALICE")).ok
        two = await upgraded.file(
            make_request(email="two@example.com", approvals_required=2), now=NOW
        )
        assert (await upgraded.record_approval(two.id, approver="UALICE", now=NOW + 1)).ok
    raw = sqlite3.connect(path, isolation_level=None)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


async def test_dynamodb_reads_an_item_of_an_older_build_as_one_approval(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(), now=NOW)
    key = {"pk": {"S": f"REQ#{request.id}"}, "sk": {"S": "REQUEST"}}
    # As a build before the two-person rule wrote it: neither attribute.
    raw_dynamo.update_item(
        TableName=dynamo_table, Key=key, UpdateExpression="REMOVE approvals, approvals_required"
    )
    old = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST")
    assert old is not None and "approvals" not in old

    got = await dynamo_store.get(request.id)

    assert got == request and (got.approvals_required, got.approvals) == (1, ())
    assert (await claim(dynamo_store, request.id, "UALICE")).ok
    stored = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST")
    assert stored is not None and stored["approvals"] == {"S": '["UALICE"]'}


async def test_dynamodb_a_retry_of_a_write_that_had_landed_counts_it_once(
    dynamo_store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dynamo_store._client  # botocore's client: the boundary, not our code
    real = client.transact_write_items

    def answer_lost_then_retried(**kwargs: Any) -> Any:
        real(**kwargs)  # commits; its answer never arrives
        return real(**kwargs)  # botocore's retry, which moto judges as a new call

    monkeypatch.setattr(client, "transact_write_items", answer_lost_then_retried)

    request = await dynamo_store.file(make_request(approvals_required=2), now=NOW)
    recorded = await record(dynamo_store, request.id, "UALICE")
    claimed = await claim(dynamo_store, request.id, "UBOB", now=NOW + 2)

    assert recorded.ok and claimed.ok
    assert claimed.request is not None and claimed.request.attempts == 1
    assert await dynamo_store.get(request.id) == claimed.request
    actions = [e.action for e in await dynamo_store.audit_trail(request.id)]
    assert actions == ["filed", "approval_recorded", "approve_claimed"]
