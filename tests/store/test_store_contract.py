"""Contract tests for RequestStore backends.

Everything above the "SQLite-specific" line talks to the store only through the protocol and
`Backend.open()`, and runs once per param of the `backend` fixture: SQLite, and DynamoDB on
moto's server (tests/dynamo.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import (
    IAM_POLICY_TEMPLATE,
    OPEN_STATUSES,
    AuditEvent,
    DuplicateRequest,
    DynamoStore,
    InviteRequest,
    Move,
    RequestStore,
    SqliteStore,
    Status,
    StoreError,
    StoreNotWritable,
    Transition,
    event_from_record,
    event_to_record,
    from_record,
    init_table,
    new_request_id,
    open_store,
    to_record,
)
from bot.store.codec import REQUEST_RECORD_FIELDS
from bot.store.items import RETENTION_SECONDS
from bot.store.sqlite import SCHEMA_VERSION

if TYPE_CHECKING:
    # Only a type: a real import would load the plugin before pytest can rewrite its asserts.
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = 1_700_000_000.0
TTL = 86_400.0
ACCOUNT = "11111111-2222-3333-4444-555555555555"
OTHER_ACCOUNT = "99999999-8888-7777-6666-555555555555"
PENDING = frozenset({Status.PENDING})


@dataclass
class Backend:
    """How to reach one backing store: open more store objects on it, or name it by URL."""

    name: str
    url: str
    data_dir: Path
    stack: AsyncExitStack

    async def open(self) -> RequestStore:
        store = await open_store(self.url, data_dir=self.data_dir)
        self.stack.push_async_callback(store.close)
        return store


@pytest.fixture(params=["sqlite", "dynamodb"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'data' / 'state.db'}"
        elif request.param == "dynamodb":
            # Also points this process's AWS settings (and so child processes') at the table.
            url = f"dynamodb://{request.getfixturevalue('dynamo_table')}"
        else:  # pragma: no cover - a new backend param must say how to reach it
            raise AssertionError(f"unknown backend {request.param}")
        yield Backend(request.param, url, tmp_path, stack)


@pytest.fixture
async def store(backend: Backend) -> RequestStore:
    return await backend.open()


def make_request(**overrides: Any) -> InviteRequest:
    fields: dict[str, Any] = {
        "id": new_request_id(),
        "email": "ada@example.com",
        "user_type": "PrivateUser",
        "reason": "new hire",
        "account_id": ACCOUNT,
        "account_name": "Engineering",
        "account_type": "EnterpriseLWA",
        "requester": "UREQUESTER",
        "origin_channel": "CORIGIN",
        "created_at": NOW,
        "expires_at": NOW + TTL,
    }
    fields.update(overrides)
    return InviteRequest(**fields)


async def claim(
    store: RequestStore, request_id: str, actor: str, *, now: float = NOW + 1
) -> Transition:
    return await store.transition(request_id, Move.claim_approval(actor, now))


async def deny(store: RequestStore, request_id: str, *, now: float = NOW + 1) -> Transition:
    return await store.transition(request_id, Move.deny("UAPPROVER", now))


async def approve(store: RequestStore, request_id: str, *, now: float = NOW + 1) -> Transition:
    assert (await claim(store, request_id, "UAPPROVER", now=now)).ok
    done = Move.finish(Status.APPROVED, "system", now + 1, result={"user_id": "u-1"})
    return await store.transition(request_id, done)


# --- filing and reading ---------------------------------------------------------------------


async def test_store_satisfies_protocol(store: RequestStore) -> None:
    assert isinstance(store, RequestStore)


async def test_file_and_get_round_trip_every_field(store: RequestStore) -> None:
    full = make_request(
        email="Zoë.O'Brien+chime@Example.com",
        user_type="SharedDevice",
        reason="room device — 会议室 🚀\nline 2; '; DROP TABLE requests; -- \x00 \u202e",
        account_type="Team",
        created_at=NOW + 0.125,
        expires_at=NOW + TTL + 0.5,
        status=Status.FAILED,
        card_channel="CAPPROVALS",
        card_ts="1700000000.000100",
        decided_by="UAPPROVER",
        decided_at=NOW + 2.75,
        result={"invite_status": "Pending", "invite_id": "inv-1", "note": "ünïcode"},
        error="ThrottlingException: slow down",
        attempts=3,
    )
    bare = make_request(email="bare@example.com", account_id=OTHER_ACCOUNT)

    for request in (full, bare):
        filed = await store.file(request, now=NOW + 5)
        assert filed == replace(request, updated_at=NOW + 5)
        assert await store.get(request.id) == filed

    got_bare = await store.get(bare.id)
    assert got_bare is not None
    assert (got_bare.card_channel, got_bare.decided_at, got_bare.result, got_bare.error) == (
        None,
        None,
        None,
        None,
    )
    assert got_bare.status is Status.PENDING


async def test_get_unknown_id_is_none(store: RequestStore) -> None:
    assert await store.get("REQ-NOSUCHTHING") is None


async def test_file_rejects_a_reused_id(store: RequestStore) -> None:
    first = await store.file(make_request(), now=NOW)
    with pytest.raises(ValueError, match=first.id):
        await store.file(make_request(id=first.id, email="other@example.com"), now=NOW)


async def test_duplicate_open_request_raises_with_the_existing_one(store: RequestStore) -> None:
    first = await store.file(make_request(), now=NOW)
    again = make_request(email="ADA@Example.COM", created_at=NOW + 10)

    with pytest.raises(DuplicateRequest) as caught:
        await store.file(again, now=NOW + 10)

    assert caught.value.existing == first
    assert await store.get(again.id) is None
    assert [e.action for e in await store.audit_trail(again.id)] == []
    # Same person on another account is a different request.
    await store.file(make_request(account_id=OTHER_ACCOUNT), now=NOW + 10)


@pytest.mark.parametrize("blocking", [Status.APPROVING, Status.FAILED])
async def test_executing_or_failed_requests_still_block(
    store: RequestStore, blocking: Status
) -> None:
    first = await store.file(make_request(), now=NOW)
    assert (await claim(store, first.id, "UAPPROVER")).ok
    if blocking is Status.FAILED:
        failed = await store.transition(
            first.id, Move.finish(Status.FAILED, "system", NOW + 2, error="boom")
        )
        assert failed.ok
    # Past expires_at too: only a *pending* request lapses.
    with pytest.raises(DuplicateRequest) as caught:
        await store.file(make_request(), now=NOW + TTL * 2)
    assert caught.value.existing.status is blocking


@pytest.mark.parametrize("decide", [deny, approve], ids=["denied", "approved"])
async def test_new_request_allowed_once_the_first_is_decided(
    store: RequestStore, decide: Callable[[RequestStore, str], Awaitable[Transition]]
) -> None:
    first = await store.file(make_request(), now=NOW)
    assert (await decide(store, first.id)).ok

    second = await store.file(make_request(created_at=NOW + 5), now=NOW + 5)

    assert await store.get(second.id) == second
    assert await store.find_open("ada@example.com", ACCOUNT, now=NOW + 5) == second


async def test_new_request_allowed_once_the_first_has_expired(store: RequestStore) -> None:
    first = await store.file(make_request(expires_at=NOW + 10), now=NOW)
    with pytest.raises(DuplicateRequest):
        await store.file(make_request(), now=NOW + 9.999)

    # Still "pending" in the store (the expiry job has not run), but past its deadline.
    second = await store.file(make_request(created_at=NOW + 10), now=NOW + 10)

    assert (await store.get(first.id)).status is Status.PENDING  # type: ignore[union-attr]
    assert await store.find_open("ada@example.com", ACCOUNT, now=NOW + 10) == second


async def test_concurrent_filings_of_the_same_person_admit_one(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]

    async def attempt(i: int) -> InviteRequest | None:
        try:
            return await stores[i % 2].file(make_request(), now=NOW)
        except DuplicateRequest:
            return None

    outcomes = await asyncio.gather(*(attempt(i) for i in range(20)))

    winners = [r for r in outcomes if r is not None]
    assert len(winners) == 1
    assert await stores[0].list_open(now=NOW) == winners


async def test_find_open(store: RequestStore) -> None:
    request = await store.file(make_request(expires_at=NOW + 100), now=NOW)

    assert await store.find_open("ADA@example.com", ACCOUNT, now=NOW + 1) == request
    assert await store.find_open("ada@example.com", OTHER_ACCOUNT, now=NOW + 1) is None
    assert await store.find_open("bob@example.com", ACCOUNT, now=NOW + 1) is None
    assert await store.find_open("ada@example.com", ACCOUNT, now=NOW + 100) is None

    assert (await deny(store, request.id)).ok
    assert await store.find_open("ada@example.com", ACCOUNT, now=NOW + 1) is None


async def test_count_open_by_requester(store: RequestStore) -> None:
    assert await store.count_open_by_requester("UREQUESTER", now=NOW) == 0
    mine = [
        await store.file(make_request(email=f"p{i}@example.com", expires_at=NOW + 100), now=NOW)
        for i in range(4)
    ]
    await store.file(make_request(email="x@example.com", requester="UOTHER"), now=NOW)
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 1) == 4
    assert await store.count_open_by_requester("UOTHER", now=NOW + 1) == 1
    assert await store.count_open_by_requester("UNOBODY", now=NOW + 1) == 0

    # Executing and failed requests still count; decided ones do not.
    assert (await claim(store, mine[0].id, "UAPPROVER")).ok
    assert (await deny(store, mine[1].id)).ok
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 2) == 3
    failed = await store.transition(
        mine[0].id, Move.finish(Status.FAILED, "system", NOW + 3, error="boom")
    )
    assert failed.ok
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 3) == 3
    # Pending requests past their deadline no longer count, even before the sweep expires them.
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 100) == 1


async def test_a_batch_is_listed_whole_and_counts_as_one_filing(store: RequestStore) -> None:
    lead = make_request(email="b0@example.com")
    batch = [replace(lead, batch_id=lead.id)] + [
        make_request(email=f"b{i}@example.com", batch_id=lead.id) for i in range(1, 4)
    ]
    for request in batch:
        await store.file(request, now=NOW)
    single = await store.file(make_request(email="single@example.com"), now=NOW)
    other = make_request(email="o@example.com")
    await store.file(replace(other, batch_id=other.id), now=NOW)

    listed = await store.list_batch(lead.id)
    assert sorted(r.id for r in listed) == sorted(r.id for r in batch)
    assert all(r.batch_id == lead.id for r in listed)
    assert (await store.get(single.id)) is not None and single.batch_id is None
    assert await store.list_batch("REQ-NOSUCHTHING") == []
    # Three filings: the batch of four, the single request, the other batch of one.
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 1) == 3
    # A decided member leaves the rest counting; a batch with none open counts no more.
    assert (await deny(store, batch[0].id)).ok
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 1) == 3
    for request in batch[1:]:
        assert (await deny(store, request.id)).ok
    assert await store.count_open_by_requester("UREQUESTER", now=NOW + 1) == 2
    # Each member still holds its own (email, account): the batch is no dedupe bypass.
    with pytest.raises(DuplicateRequest):
        await store.file(make_request(email="O@example.com", batch_id="REQ-ANOTHERONE"), now=NOW)
    decided = await store.list_batch(lead.id)
    assert {r.status for r in decided} == {Status.DENIED}


async def test_a_follower_is_judged_at_its_leads_decision_not_at_the_followers_move(
    store: RequestStore,
) -> None:
    """A bulk invite's other requests take a decision made in time, however late they move;
    one made after the deadline they never take (the store re-states it on both backends)."""
    lead = make_request(email="b0@example.com", expires_at=NOW + 10)
    lead = replace(lead, batch_id=lead.id)
    late, early = (
        make_request(email=f"b{i}@example.com", batch_id=lead.id, expires_at=NOW + 10)
        for i in (1, 2)
    )
    for request in (lead, late, early):
        await store.file(request, now=NOW)
    in_time = replace(lead, status=Status.APPROVING, decided_by="UALICE", decided_at=NOW + 9.99)
    assert (await store.transition(late.id, Move.follow(in_time, "system", NOW + 70))).ok
    too_late = replace(in_time, decided_at=NOW + 10)
    refused = await store.transition(early.id, Move.follow(too_late, "system", NOW + 5))
    assert not refused.ok
    assert (await store.get(early.id)).status == Status.PENDING  # type: ignore[union-attr]


async def test_set_card(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)

    updated = await store.set_card(request.id, "CAPPROVALS", "1700000000.000200")

    assert updated == replace(request, card_channel="CAPPROVALS", card_ts="1700000000.000200")
    assert await store.get(request.id) == updated
    assert await store.set_card("REQ-NOSUCHTHING", "C1", "1.2") is None


# --- transitions ----------------------------------------------------------------------------


async def test_pending_to_approving_succeeds_once(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)

    first = await claim(store, request.id, "UALICE", now=NOW + 1)
    second = await claim(store, request.id, "UBOB", now=NOW + 2)

    assert first.ok
    assert first.request == replace(
        request,
        status=Status.APPROVING,
        decided_by="UALICE",
        decided_at=NOW + 1,
        attempts=1,
        updated_at=NOW + 1,
        approvals=("UALICE",),  # the claim is the (last) approval
    )
    assert not second.ok
    assert second.request == first.request  # the winner's state, for the loser to render
    assert await store.get(request.id) == first.request


async def test_transition_of_unknown_id(store: RequestStore) -> None:
    assert await claim(store, "REQ-NOSUCHTHING", "UALICE") == Transition(ok=False, request=None)


async def test_require_unexpired_refuses_an_expired_pending_request(store: RequestStore) -> None:
    request = await store.file(make_request(expires_at=NOW + 10), now=NOW)

    refused = await claim(store, request.id, "UALICE", now=NOW + 10)

    assert not refused.ok
    assert refused.request == request
    expired = await store.transition(request.id, Move.expire("system", NOW + 11))
    assert expired.ok
    assert expired.request is not None
    assert expired.request.status is Status.EXPIRED
    assert expired.request.attempts == 0


async def test_attempts_count_claims_only(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)
    steps = [
        Move.claim_approval("UALICE", NOW + 1),
        Move.finish(Status.FAILED, "system", NOW + 2, error="Throttled"),
        Move.retry("UBOB", NOW + 3),
        Move.finish(Status.APPROVED, "system", NOW + 4, result={"user_id": "u-9"}),
    ]
    seen = []
    for move in steps:
        outcome = await store.transition(request.id, move)
        assert outcome.ok, (move, outcome)
        assert outcome.request is not None
        seen.append(outcome.request.attempts)

    final = await store.get(request.id)
    assert seen == [1, 1, 2, 2]
    assert final == replace(
        request,
        status=Status.APPROVED,
        decided_by="UBOB",
        decided_at=NOW + 3,
        result={"user_id": "u-9"},
        error=None,
        attempts=2,
        updated_at=NOW + 4,
        approvals=("UALICE",),  # the pending claim's approver; a retry is no new approval
    )
    # Final: nothing moves it again.
    for again in (Move.retry("UX", NOW + 9), Move.claim_approval("UX", NOW + 9)):
        assert await store.transition(request.id, again) == Transition(ok=False, request=final)


async def test_a_claim_records_when_its_lease_ends_by_the_claimers_clock(
    store: RequestStore,
) -> None:
    """Each claim of an execution says until when its claimer holds it: the claimer's `now`
    plus the claimer's lease (issue 24). Another replica's shorter lease does not decide."""
    request = await store.file(make_request(), now=NOW)
    claim = Move.claim_approval("UALICE", NOW + 1, lease=120)
    claimed = await store.transition(request.id, claim)
    assert claimed.ok and claimed.request is not None
    assert claimed.request.lease_until == NOW + 121
    stored = await store.get(request.id)
    assert stored is not None and stored.lease_until == NOW + 121
    assert not stored.lease_over(NOW + 62, lease=60)
    assert stored.lease_over(NOW + 121, lease=60)
    (_, event) = await store.audit_trail(request.id)
    assert event.detail["lease_until"] == str(NOW + 121)

    failed = Move.finish(Status.FAILED, "system", NOW + 5, error="Throttled")
    assert (await store.transition(request.id, failed)).ok
    retried = await store.transition(request.id, Move.retry("UBOB", NOW + 200, lease=30))
    assert retried.request is not None and retried.request.lease_until == NOW + 230


async def test_a_claim_is_resumed_only_once_its_lease_is_over_and_only_once(
    store: RequestStore,
) -> None:
    request = await store.file(make_request(), now=NOW)
    assert (await store.transition(request.id, Move.claim_approval("UA", NOW, lease=60))).ok
    early = await store.transition(request.id, Move.resume("system", NOW + 59, lease=30))
    assert not early.ok, "the claimer's lease still holds"
    resumed = await store.transition(request.id, Move.resume("system", NOW + 60, lease=30))
    assert resumed.ok and resumed.request is not None
    assert (resumed.request.status, resumed.request.attempts) == (Status.APPROVING, 2)
    assert resumed.request.lease_until == NOW + 90
    assert resumed.request.decided_by == "UA", "still the approver's decision"
    again = await store.transition(request.id, Move.resume("system", NOW + 61, lease=30))
    assert not again.ok, "a rival sweep finds the claim renewed"
    assert [e.action for e in await store.audit_trail(request.id)][-1] == "resumed"


async def test_a_claim_without_a_lease_end_is_judged_from_its_last_change(
    store: RequestStore,
) -> None:
    """A claim written by a build before `lease_until`: the reader's lease from updated_at."""
    request = await store.file(make_request(), now=NOW)
    assert (await claim(store, request.id, "UALICE", now=NOW + 1)).ok
    stored = await store.get(request.id)
    assert stored is not None and stored.lease_until is None
    assert not stored.lease_over(NOW + 60, lease=60)
    assert stored.lease_over(NOW + 61, lease=60)


async def test_transition_rejects_unknown_changes(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)
    with pytest.raises(TypeError, match="email"):
        evil = Move(PENDING, Status.DENIED, "UX", NOW + 1, "denied", changes=(("email", "e"),))
        await store.transition(request.id, evil)
    assert await store.get(request.id) == request


def test_moves_say_what_they_expect_and_record() -> None:
    """Each named move, as the workflow makes it (bot/store/moves.py)."""
    lead = make_request(status=Status.APPROVED, decided_by="UALICE", decided_at=NOW + 1)
    denied_lead = replace(lead, status=Status.DENIED)
    cases = {
        Move.claim_approval("UA", NOW): (PENDING, Status.APPROVING, "approve_claimed", True),
        Move.deny("UA", NOW): (PENDING, Status.DENIED, "denied", True),
        Move.follow(lead, "system", NOW): (PENDING, Status.APPROVING, "approve_claimed", True),
        Move.follow(denied_lead, "system", NOW): (PENDING, Status.DENIED, "denied", True),
        Move.withdraw("system", NOW, "no card"): (PENDING, Status.DENIED, "withdrawn", False),
        Move.expire("UA", NOW): (PENDING, Status.EXPIRED, "expired", False),
        Move.retry("UA", NOW): ({Status.FAILED}, Status.APPROVING, "retry_claimed", False),
        Move.resume("system", NOW, lease=60): (
            {Status.APPROVING},
            Status.APPROVING,
            "resumed",
            False,
        ),
        Move.finish(Status.FAILED, "UA", NOW, action="reconciled", error="gone"): (
            {Status.APPROVING},
            Status.FAILED,
            "reconciled",
            False,
        ),
    }
    for move, (expect, to, action, unexpired) in cases.items():
        assert (move.expect, move.to, move.action, move.require_unexpired) == (
            expect,
            to,
            action,
            unexpired,
        ), move
    assert Move.follow(lead, "system", NOW).fields == {
        "decided_by": "UALICE",
        "decided_at": NOW + 1,
    }
    assert Move.retry("UA", NOW).fields == {"decided_by": "UA", "decided_at": NOW, "error": None}
    # A claim holds its execution for the claimer's lease; a denial claims nothing.
    assert Move.follow(lead, "system", NOW, lease=60).fields["lease_until"] == NOW + 60
    assert "lease_until" not in Move.follow(denied_lead, "system", NOW, lease=60).fields
    assert Move.retry("UA", NOW, lease=60).fields["lease_until"] == NOW + 60
    assert Move.finish(Status.APPROVED, "UA", NOW).fields == {}
    with pytest.raises(ValueError, match="approved or failed"):
        Move.finish(Status.DENIED, "UA", NOW)
    with pytest.raises(ValueError, match="at least one"):
        Move(frozenset(), Status.DENIED, "UA", NOW, "denied")


async def test_twenty_concurrent_claims_one_store(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)

    outcomes = await asyncio.gather(*(claim(store, request.id, f"U{i:03d}") for i in range(20)))

    await assert_single_winner(store, request.id, outcomes)


async def test_twenty_concurrent_claims_two_store_objects(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    request = await one.file(make_request(), now=NOW)

    outcomes = await asyncio.gather(
        *(claim((one, two)[i % 2], request.id, f"U{i:03d}") for i in range(20))
    )

    await assert_single_winner(two, request.id, outcomes)


async def assert_single_winner(
    store: RequestStore, request_id: str, outcomes: list[Transition]
) -> None:
    winners = [o for o in outcomes if o.ok]
    assert len(winners) == 1
    winner = winners[0].request
    assert winner is not None
    assert winner.attempts == 1
    # Every loser sees the winner's decision, not its own.
    assert all(
        o.request is not None and o.request.decided_by == winner.decided_by for o in outcomes
    )
    assert await store.get(request_id) == winner
    claims = [e for e in await store.audit_trail(request_id) if e.action == "approve_claimed"]
    assert [e.actor for e in claims] == [winner.decided_by]


_CHILD = """
import asyncio, sys
from pathlib import Path
from bot.store import Move, open_store

async def main() -> None:
    url, data_dir, request_id, name = sys.argv[1:5]
    store = await open_store(url, data_dir=Path(data_dir))
    print("ready", flush=True)
    sys.stdin.readline()  # start line: both processes are open before either claims
    outcomes = await asyncio.gather(*(
        store.transition(request_id, Move.claim_approval(f"{name}{i}", 1.0))
        for i in range(20)
    ))
    await store.close()
    print(sum(o.ok for o in outcomes), flush=True)

asyncio.run(main())
"""


async def run_children(backend: Backend, script: str, request_id: str) -> list[str]:
    """Run `script` in two processes (named UPROCA and UPROCB) on the backing store, released
    together once both have opened it; what each printed after that, once both exited 0."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            backend.url,
            str(backend.data_dir),
            request_id,
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
            env=env,
        )
        for name in ("UPROCA", "UPROCB")
    ]
    for child in children:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30) == b"ready\n"
    results = await asyncio.gather(
        *(asyncio.wait_for(child.communicate(b"go\n"), 30) for child in children)
    )
    assert [child.returncode for child in children] == [0, 0]
    return [out.decode() for out, _ in results]


async def test_twenty_claims_from_each_of_two_processes(
    backend: Backend, store: RequestStore
) -> None:
    request = await store.file(make_request(), now=NOW)

    results = await run_children(backend, _CHILD, request.id)

    assert sum(int(out.strip()) for out in results) == 1
    final = await store.get(request.id)
    assert final is not None
    assert final.status is Status.APPROVING
    assert final.attempts == 1
    claims = [e for e in await store.audit_trail(request.id) if e.action == "approve_claimed"]
    assert [e.actor for e in claims] == [final.decided_by]


# --- reminder claims ------------------------------------------------------------------------

LEASE = 600.0


def reminder_event(request_id: str, action: str = "reminded", *, at: float = NOW + 2) -> AuditEvent:
    return AuditEvent(request_id, at, "system", action, {"thread_ts": "1.000200"})


async def test_a_reminder_is_claimed_once_and_sent_for_good(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)

    token = await store.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None
    assert await store.claim_reminder(request, now=NOW + 1, lease=LEASE) is None
    assert await store.reminder_sent(request.id, reminder_event(request.id))
    assert not await store.reminder_sent(request.id, reminder_event(request.id, at=NOW + 3))

    # Sent is for good: not after the lease, not for a release naming the old claim.
    assert await store.claim_reminder(request, now=NOW + 2 * LEASE, lease=LEASE) is None
    failed = reminder_event(request.id, "reminder_failed")
    assert not await store.release_reminder(request.id, token, retry_at=NOW, event=failed)
    trail = [e.action for e in await store.audit_trail(request.id)]
    assert trail == ["filed", "reminded"]
    assert (await store.get(request.id)) == request, "the request itself is untouched"


async def test_twenty_concurrent_reminder_claims_two_store_objects(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    request = await one.file(make_request(), now=NOW)

    tokens = await asyncio.gather(
        *((one, two)[i % 2].claim_reminder(request, now=NOW + 1, lease=LEASE) for i in range(20))
    )

    assert len([t for t in tokens if t is not None]) == 1


async def test_only_a_pending_unexpired_request_can_be_reminded(store: RequestStore) -> None:
    denied = await store.file(make_request(email="denied@example.com"), now=NOW)
    assert (await deny(store, denied.id)).ok
    lapsed = await store.file(make_request(email="late@example.com", expires_at=NOW + 5), now=NOW)
    ghost = make_request(email="ghost@example.com")  # never filed

    assert await store.claim_reminder(denied, now=NOW + 2, lease=LEASE) is None
    assert await store.claim_reminder(lapsed, now=NOW + 5, lease=LEASE) is None
    assert await store.claim_reminder(ghost, now=NOW + 2, lease=LEASE) is None
    assert await store.claim_reminder(lapsed, now=NOW + 4, lease=LEASE) is not None


async def test_a_released_reminder_is_claimable_again_from_its_retry_time(
    store: RequestStore,
) -> None:
    request = await store.file(make_request(), now=NOW)
    token = await store.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None
    failed = reminder_event(request.id, "reminder_failed")

    assert not await store.release_reminder(request.id, "not-the-token", retry_at=NOW, event=failed)
    assert await store.release_reminder(request.id, token, retry_at=NOW + 100, event=failed)
    assert not await store.release_reminder(request.id, token, retry_at=NOW, event=failed)

    assert await store.claim_reminder(request, now=NOW + 99, lease=LEASE) is None
    again = await store.claim_reminder(request, now=NOW + 100, lease=LEASE)
    assert again is not None and again != token
    assert await store.reminder_sent(request.id, reminder_event(request.id, at=NOW + 101))
    trail = [e.action for e in await store.audit_trail(request.id)]
    assert trail == ["filed", "reminder_failed", "reminded"]


async def test_a_claim_whose_holder_vanished_lapses_after_its_lease(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)
    stale = await store.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert stale is not None

    assert await store.claim_reminder(request, now=NOW + LEASE, lease=LEASE) is None
    fresh = await store.claim_reminder(request, now=NOW + 1 + LEASE, lease=LEASE)
    assert fresh is not None
    failed = reminder_event(request.id, "reminder_failed")
    assert not await store.release_reminder(request.id, stale, retry_at=NOW, event=failed)


# --- messages told once ---------------------------------------------------------------------


async def test_a_message_is_claimed_once_and_kept_in_the_trail(store: RequestStore) -> None:
    request = await store.file(make_request(), now=NOW)
    other = await store.file(make_request(email="grace@example.com"), now=NOW)

    assert await store.claim_message(request.id, "outcome expired=3", now=NOW + 1)
    assert not await store.claim_message(request.id, "outcome expired=3", now=NOW + 2)
    # Another message about the same request, or the same one about another request, is its own.
    assert await store.claim_message(request.id, "outcome approved=3", now=NOW + 3)
    assert await store.claim_message(other.id, "outcome expired=3", now=NOW + 4)

    told = [e for e in await store.audit_trail(request.id) if e.action == "told"]
    assert [(e.at, e.actor, e.detail) for e in told] == [
        (NOW + 1, "system", {"message": "outcome expired=3"}),
        (NOW + 3, "system", {"message": "outcome approved=3"}),
    ]
    assert (await store.get(request.id)) == request, "the request itself is untouched"
    assert [e.action for e in await store.audit_events()].count("told") == 3


async def test_twenty_concurrent_message_claims_two_store_objects_one_wins(
    backend: Backend,
) -> None:
    one, two = await backend.open(), await backend.open()
    request = await one.file(make_request(), now=NOW)

    won = await asyncio.gather(
        *((one, two)[i % 2].claim_message(request.id, "note", now=NOW + i) for i in range(20))
    )

    assert won.count(True) == 1
    told = [e for e in await two.audit_trail(request.id) if e.action == "told"]
    assert len(told) == 1


_TELL_CHILD = """
import asyncio, sys
from pathlib import Path
from bot.store import open_store

async def main() -> None:
    url, data_dir, request_id, name = sys.argv[1:5]
    store = await open_store(url, data_dir=Path(data_dir))
    print("ready", flush=True)
    sys.stdin.readline()
    won = await asyncio.gather(*(
        store.claim_message(request_id, "note", now=1.0 + i) for i in range(20)
    ))
    await store.close()
    print(sum(won), flush=True)

asyncio.run(main())
"""


async def test_twenty_message_claims_from_each_of_two_processes_one_wins(
    backend: Backend, store: RequestStore
) -> None:
    request = await store.file(make_request(), now=NOW)

    results = await run_children(backend, _TELL_CHILD, request.id)

    assert sum(int(out.strip()) for out in results) == 1
    told = [e for e in await store.audit_trail(request.id) if e.action == "told"]
    assert len(told) == 1


# --- listing --------------------------------------------------------------------------------


async def test_list_open_oldest_first_including_expired_pending(store: RequestStore) -> None:
    def at(minute: int, email: str, **kw: Any) -> InviteRequest:
        return make_request(email=email, created_at=NOW + 60 * minute, **kw)

    late = await store.file(at(5, "late@example.com"), now=NOW + 300)
    early = await store.file(at(1, "early@example.com", expires_at=NOW + 90), now=NOW + 60)
    denied = await store.file(at(2, "denied@example.com"), now=NOW + 120)
    executing = await store.file(at(3, "exec@example.com"), now=NOW + 180)
    assert (await deny(store, denied.id, now=NOW + 400)).ok
    claimed = await claim(store, executing.id, "UALICE", now=NOW + 400)
    assert claimed.request is not None

    listed = await store.list_open(now=NOW + 500)

    assert listed == [early, claimed.request, late]
    assert [r.is_expired(NOW + 500) for r in listed] == [True, False, False]
    assert {r.status for r in listed} <= OPEN_STATUSES
    assert [r.id for r in await store.list_by_status(Status.PENDING)] == [early.id, late.id]
    assert [r.id for r in await store.list_by_status(Status.DENIED)] == [denied.id]
    assert await store.list_by_status(Status.EXPIRED) == []


# --- audit ----------------------------------------------------------------------------------


async def test_audit_trail_records_request_decision_and_outcome(
    store: RequestStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chime_bot.audit")
    request = await store.file(make_request(reason="onboarding"), now=NOW)
    assert (await claim(store, request.id, "UALICE", now=NOW + 1)).ok
    assert not (await claim(store, request.id, "UBOB", now=NOW + 2)).ok
    await store.record(AuditEvent(request.id, NOW + 2, "UBOB", "refused", {"why": "decided"}))
    done = await store.transition(
        request.id, Move.finish(Status.APPROVED, "system", NOW + 3, result={"user_id": "u-1"})
    )
    assert done.ok

    trail = await store.audit_trail(request.id)

    assert [(e.action, e.actor, e.at) for e in trail] == [
        ("filed", "UREQUESTER", NOW),
        ("approve_claimed", "UALICE", NOW + 1),
        ("refused", "UBOB", NOW + 2),
        ("approved", "system", NOW + 3),
    ]
    filed, claimed, refused, approved = (e.detail for e in trail)
    assert filed["email"] == "ada@example.com"
    assert filed["account_id"] == ACCOUNT
    assert filed["reason"] == "onboarding"
    assert claimed["from"] == "pending"
    assert claimed["to"] == "approving"
    assert claimed["decided_by"] == "UALICE"
    assert claimed["attempts"] == "1"
    assert refused == {"why": "decided"}
    assert approved["from"] == "approving"
    assert approved["to"] == "approved"
    assert json.loads(approved["result"]) == {"user_id": "u-1"}
    assert all(isinstance(v, str) for e in trail for v in e.detail.values())

    logged = [r for r in caplog.records if r.name == "chime_bot.audit"]
    assert [r.getMessage() for r in logged] == ["filed", "approve_claimed", "refused", "approved"]
    assert [(r.request_id, r.actor, r.at) for r in logged] == [  # type: ignore[attr-defined]
        (e.request_id, e.actor, e.at) for e in trail
    ]
    assert logged[-1].detail == approved  # type: ignore[attr-defined]


async def test_audit_trails_are_per_request(store: RequestStore) -> None:
    one = await store.file(make_request(), now=NOW)
    two = await store.file(make_request(email="bob@example.com"), now=NOW + 1)
    await store.record(AuditEvent("REQ-UNKNOWN", NOW, "UX", "refused", {}))

    assert [e.request_id for e in await store.audit_trail(one.id)] == [one.id]
    assert [e.request_id for e in await store.audit_trail(two.id)] == [two.id]
    assert await store.audit_trail("REQ-UNKNOWN") == [
        AuditEvent("REQ-UNKNOWN", NOW, "UX", "refused", {})
    ]


async def test_audit_events_span_requests_oldest_first_within_bounds(store: RequestStore) -> None:
    one = await store.file(make_request(), now=NOW)
    two = await store.file(make_request(email="bob@example.com"), now=NOW + 10)
    assert (await deny(store, one.id, now=NOW + 20)).ok
    # Two events at one instant keep the order they were written in.
    await store.record(AuditEvent(two.id, NOW + 30, "UX", "refused", {"n": "1"}))
    await store.record(AuditEvent(two.id, NOW + 30, "UY", "refused", {"n": "2"}))

    every = await store.audit_events()
    assert [(e.request_id, e.action, e.at) for e in every] == [
        (one.id, "filed", NOW),
        (two.id, "filed", NOW + 10),
        (one.id, "denied", NOW + 20),
        (two.id, "refused", NOW + 30),
        (two.id, "refused", NOW + 30),
    ]
    assert [e.actor for e in every[-2:]] == ["UX", "UY"]
    assert every[0] == (await store.audit_trail(one.id))[0], "the same events as the trail"

    # since is inclusive, until exclusive, either may be left open.
    assert [e.at for e in await store.audit_events(since=NOW + 10, until=NOW + 30)] == [
        NOW + 10,
        NOW + 20,
    ]
    assert [e.at for e in await store.audit_events(since=NOW + 20)] == [
        NOW + 20,
        NOW + 30,
        NOW + 30,
    ]
    assert [e.at for e in await store.audit_events(until=NOW + 10)] == [NOW]
    assert await store.audit_events(since=NOW + 31) == []


async def test_audit_events_of_an_empty_store(store: RequestStore) -> None:
    await store.check_writable()  # a bookkeeping write is not an audit event
    assert await store.audit_events() == []


# --- lifecycle ------------------------------------------------------------------------------


async def test_state_survives_close_and_reopen(backend: Backend) -> None:
    first = await backend.open()
    request = await first.file(make_request(), now=NOW)
    await first.set_card(request.id, "CAPPROVALS", "1.000200")
    assert (await claim(first, request.id, "UALICE")).ok
    before = (await first.get(request.id), await first.audit_trail(request.id))
    await first.close()
    await first.close()  # idempotent

    again = await backend.open()

    assert (await again.get(request.id), await again.audit_trail(request.id)) == before
    with pytest.raises(DuplicateRequest):
        await again.file(make_request(), now=NOW + 2)


async def test_closed_store_refuses_work(backend: Backend) -> None:
    store = await backend.open()
    await store.close()
    with pytest.raises(StoreError):
        await store.get("REQ-ANY")


async def test_check_writable_on_a_healthy_store(store: RequestStore) -> None:
    await store.check_writable()


# --- round trips ----------------------------------------------------------------------------

_text = st.text(max_size=40)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_requests = st.builds(
    InviteRequest,
    id=_text,
    email=_text,
    user_type=st.sampled_from(["PrivateUser", "SharedDevice"]) | _text,
    reason=st.text(max_size=300),
    account_id=_text,
    account_name=_text,
    account_type=_text,
    requester=_text,
    origin_channel=_text,
    created_at=_finite,
    expires_at=_finite,
    status=st.sampled_from(Status),
    card_channel=st.none() | _text,
    card_ts=st.none() | _text,
    decided_by=st.none() | _text,
    decided_at=st.none() | _finite,
    result=st.none() | st.dictionaries(_text, _text, max_size=4),
    error=st.none() | _text,
    attempts=st.integers(min_value=0, max_value=2**53),
    updated_at=_finite,
    approvals_required=st.integers(min_value=1, max_value=2),
    approvals=st.lists(_text, max_size=3).map(tuple),
)
_events = st.builds(
    AuditEvent,
    request_id=_text,
    at=_finite,
    actor=_text,
    action=_text,
    detail=st.dictionaries(_text, _text, max_size=4),
)


def _is_flat(record: dict[str, Any]) -> bool:
    return all(v is None or type(v) in (str, int, float) for v in record.values())


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(request=_requests)
def test_codec_round_trips_requests(request: InviteRequest) -> None:
    record = to_record(request)

    assert _is_flat(record)
    assert from_record(record) == request
    # Flat means it also survives any plain JSON-ish transport unchanged.
    assert from_record(json.loads(json.dumps(record))) == request


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(event=_events)
def test_codec_round_trips_events(event: AuditEvent) -> None:
    record = event_to_record(event)

    assert _is_flat(record)
    assert event_from_record(record) == event
    assert event_from_record(json.loads(json.dumps(record))) == event


@settings(
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(request=_requests)
async def test_store_round_trips_arbitrary_requests(
    store: RequestStore, request: InviteRequest
) -> None:
    # One store serves every example, so give each a fresh id and its own dedupe key.
    unique = new_request_id()
    request = replace(request, id=unique, account_id=unique)

    filed = await store.file(request, now=NOW)

    assert await store.get(unique) == filed == replace(request, updated_at=NOW)


# --- SQLite-specific ------------------------------------------------------------------------


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "nested" / "dir" / "state.db") as store:
        yield store


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_sqlite_open_creates_directory_schema_and_wal(sqlite_store: SqliteStore) -> None:
    assert sqlite_store.path.is_file()
    raw = _raw(sqlite_store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        columns = {row[1] for row in raw.execute("PRAGMA table_info(requests)")}
        assert columns == set(REQUEST_RECORD_FIELDS)
    finally:
        raw.close()


async def test_sqlite_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as one, await SqliteStore.open(path) as two:
        request = await one.file(make_request(), now=NOW)
        assert await two.get(request.id) == request


async def test_sqlite_upgrades_a_version_1_store_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as old:
        request = await old.file(make_request(), now=NOW)
    raw = _raw(path)
    raw.execute("DROP TABLE reminders")  # as a version-1 build left it
    raw.execute("PRAGMA user_version = 1")
    raw.close()

    async with await SqliteStore.open(path) as upgraded:
        assert await upgraded.get(request.id) == request
        assert await upgraded.claim_reminder(request, now=NOW + 1, lease=60) is not None
    raw = _raw(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


async def test_sqlite_upgrades_a_version_2_store_with_its_batch_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as old:
        request = await old.file(make_request(), now=NOW)
    raw = _raw(path)
    raw.execute("DROP INDEX requests_batch")
    raw.execute("ALTER TABLE requests DROP COLUMN batch_id")  # as a version-2 build left it
    raw.execute("PRAGMA user_version = 2")
    raw.close()

    async with await SqliteStore.open(path) as upgraded:
        assert await upgraded.get(request.id) == request
        lead = make_request(email="b1@example.com")
        await upgraded.file(replace(lead, batch_id=lead.id), now=NOW)
        assert [r.id for r in await upgraded.list_batch(lead.id)] == [lead.id]


async def test_sqlite_upgrades_a_version_4_store_with_its_lease_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as old:
        request = await old.file(make_request(), now=NOW)
    raw = _raw(path)
    raw.execute("ALTER TABLE requests DROP COLUMN lease_until")  # as a version-4 build left it
    raw.execute("PRAGMA user_version = 4")
    raw.close()

    async with await SqliteStore.open(path) as upgraded:
        assert await upgraded.get(request.id) == request
        claim = Move.claim_approval("UALICE", NOW + 1, lease=60)
        claimed = await upgraded.transition(request.id, claim)
        assert claimed.request is not None and claimed.request.lease_until == NOW + 61
    raw = _raw(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    raw = _raw(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()

    with pytest.raises(StoreError, match="schema version 99"):
        await SqliteStore.open(path)


async def test_sqlite_open_failure_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    with pytest.raises(StoreError, match=r"cannot open request store .*not-a-dir"):
        await SqliteStore.open(blocker / "state.db")


async def test_sqlite_audit_table_is_append_only(sqlite_store: SqliteStore) -> None:
    request = await sqlite_store.file(make_request(), now=NOW)
    raw = _raw(sqlite_store.path)
    try:
        for statement in ("UPDATE audit SET actor = 'UEVIL'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(statement)
    finally:
        raw.close()
    assert len(await sqlite_store.audit_trail(request.id)) == 1


async def test_sqlite_check_writable_reports_a_read_only_store(sqlite_store: SqliteStore) -> None:
    # Running as root defeats chmod, so make the connection itself refuse writes.
    await sqlite_store._run(lambda conn: conn.execute("PRAGMA query_only = ON"))

    with pytest.raises(StoreNotWritable, match=r"state\.db is not writable"):
        await sqlite_store.check_writable()


async def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        None: tmp_path / "data" / "state.db",
        "": tmp_path / "data" / "state.db",
        "sqlite:///rel/x.db": tmp_path / "rel" / "x.db",
        f"sqlite:///{tmp_path}/abs/y.db": tmp_path / "abs" / "y.db",
    }
    for url, expected in cases.items():
        store = await open_store(url, data_dir=tmp_path / "data")
        try:
            assert isinstance(store, SqliteStore)
            assert store.path.resolve() == expected
            assert expected.is_file()
        finally:
            await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("dynamodb://", "expected sqlite:///path/state.db or dynamodb://<table>"),
        ("dynamodb://no spaces", "expected sqlite:///path/state.db or dynamodb://<table>"),
        ("dynamodb://eu-west-1/t", "expected sqlite:///path/state.db or dynamodb://<table>"),
        ("postgres://db/chime", "CHIME_STORE_URL 'postgres://db/chime': expected sqlite:///"),
        ("sqlite://", "expected sqlite:///path/state.db or dynamodb://<table>"),
        ("sqlite:///:memory:", "expected sqlite:///path/state.db"),
        ("state.db", "expected sqlite:///path/state.db"),
    ],
)
async def test_open_store_rejects_unusable_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        await open_store(url, data_dir=tmp_path)


# --- DynamoDB-specific ----------------------------------------------------------------------

RETENTION = RETENTION_SECONDS


@pytest.fixture
async def dynamo_store(dynamo_table: str) -> AsyncIterator[DynamoStore]:
    async with await DynamoStore.open(dynamo_table) as store:
        yield store


@pytest.fixture
def raw_dynamo(moto_dynamo: MotoDynamo) -> Any:
    """A plain client, for looking at (and tampering with) items directly."""
    return moto_dynamo.admin


def _raw_item(client: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    item: dict[str, Any] | None = client.get_item(
        TableName=table, Key=key, ConsistentRead=True
    ).get("Item")
    return item


async def test_dynamodb_open_store_url_selects_dynamo(dynamo_table: str, tmp_path: Path) -> None:
    store = await open_store(f" dynamodb://{dynamo_table} ", data_dir=tmp_path)
    try:
        assert isinstance(store, DynamoStore)
        assert store.table == dynamo_table
    finally:
        await store.close()
    assert not (tmp_path / "state.db").exists()


async def test_dynamodb_item_layout_ttl_and_version(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(), now=NOW)

    def item() -> dict[str, Any]:
        found = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST")
        assert found is not None
        return found

    filed = item()
    assert filed["gsi1pk"] == {"S": "STATUS#pending"}
    assert filed["gsi1sk"]["S"].endswith(f"#{request.id}")
    assert filed["version"] == {"N": "0"}
    assert filed["ttl"] == {"N": str(int(NOW + TTL + RETENTION))}
    lock = _raw_item(raw_dynamo, dynamo_table, f"LOCK#{ACCOUNT}#ada@example.com", "LOCK")
    assert lock is not None and lock["holder"] == {"S": request.id}

    assert (await claim(dynamo_store, request.id, "UALICE")).ok
    claimed = item()
    assert (claimed["version"], claimed["gsi1pk"]) == ({"N": "1"}, {"S": "STATUS#approving"})
    assert "ttl" not in claimed  # never deleted while it may still be executing or retried

    late = NOW + TTL * 3
    done = await dynamo_store.transition(request.id, Move.finish(Status.APPROVED, "system", late))
    assert done.ok
    assert item()["ttl"] == {"N": str(int(late + RETENTION))}
    audit = raw_dynamo.query(
        TableName=dynamo_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"REQ#{request.id}"}, ":audit": {"S": "AUDIT#"}},
    )["Items"]
    assert [a["action"]["S"] for a in audit] == ["filed", "approve_claimed", "approved"]
    assert all("ttl" not in a for a in audit)


async def test_dynamodb_reminder_item_layout_stays_out_of_listings_and_the_request(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(), now=NOW)
    before = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST")
    token = await dynamo_store.claim_reminder(request, now=NOW + 1, lease=LEASE)
    assert token is not None

    held = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REMINDER")
    assert held is not None
    assert (held["kind"], held["holder"]) == ({"S": "reminder"}, {"S": token})
    assert held["ttl"] == {"N": str(int(NOW + TTL + RETENTION))}  # lives as long as the request
    assert "gsi1pk" not in held, "never listed as a request"
    # The claim leaves the request item alone: a decision racing it is not made to retry.
    assert _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REQUEST") == before

    assert await dynamo_store.reminder_sent(request.id, reminder_event(request.id))
    sent = _raw_item(raw_dynamo, dynamo_table, f"REQ#{request.id}", "REMINDER")
    assert sent is not None and "holder" not in sent and sent["sent_at"] == {"N": repr(NOW + 2)}
    assert await dynamo_store.list_by_status(Status.PENDING) == [await dynamo_store.get(request.id)]
    assert [e.action for e in await dynamo_store.audit_events()] == ["filed", "reminded"]


async def test_dynamodb_filing_rechecks_a_holder_that_changed_after_it_was_read(
    dynamo_store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    lapsed = await dynamo_store.file(make_request(expires_at=NOW + 10), now=NOW)
    stale = await asyncio.get_running_loop().run_in_executor(
        None, dynamo_store.calls.read_lock, f"{ACCOUNT}#ada@example.com"
    )
    # After that read, someone claims the lapsed request (no deadline check: a move the bot
    # never makes, stated field by field), so it blocks again.
    past_deadline = Move(PENDING, Status.APPROVING, "UALICE", NOW + 20, "approve_claimed")
    revived = await dynamo_store.transition(lapsed.id, past_deadline)
    assert revived.ok
    reads = []
    real_read = dynamo_store.calls.read_lock

    def read_lock(key: str) -> Any:
        reads.append(key)
        return stale if len(reads) == 1 else real_read(key)

    monkeypatch.setattr(dynamo_store.calls, "read_lock", read_lock)

    with pytest.raises(DuplicateRequest) as caught:
        await dynamo_store.file(make_request(), now=NOW + 20)

    assert len(reads) == 2  # the stale judgement was refused by the write, then re-read
    assert caught.value.existing == revived.request
    assert await dynamo_store.list_by_status(Status.PENDING) == []


async def test_dynamodb_listing_trusts_the_table_over_a_lagging_index(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    request = await dynamo_store.file(make_request(), now=NOW)
    # What a GSI that has not caught up looks like: the index entry says approving.
    raw_dynamo.update_item(
        TableName=dynamo_table,
        Key={"pk": {"S": f"REQ#{request.id}"}, "sk": {"S": "REQUEST"}},
        UpdateExpression="SET gsi1pk = :stale",
        ExpressionAttributeValues={":stale": {"S": "STATUS#approving"}},
    )

    assert await dynamo_store.list_by_status(Status.APPROVING) == []
    assert await dynamo_store.get(request.id) == request


async def test_dynamodb_keeps_floats_beyond_its_number_range(dynamo_store: DynamoStore) -> None:
    extreme = make_request(created_at=-1.7976931348623157e308, expires_at=5e-324, decided_at=1e200)

    filed = await dynamo_store.file(extreme, now=-0.0)

    assert await dynamo_store.get(extreme.id) == filed == replace(extreme, updated_at=0.0)
    assert await dynamo_store.list_by_status(Status.PENDING) == [filed]


async def test_dynamodb_missing_table_says_to_run_init_store(
    moto_dynamo: MotoDynamo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    moto_dynamo.use(monkeypatch)
    expected = r"cannot open request store dynamodb://no-such-table: .*`chime-bot init-store`"
    with pytest.raises(StoreError, match=expected):
        await open_store("dynamodb://no-such-table", data_dir=tmp_path)


async def test_dynamodb_check_writable_after_the_table_is_dropped(
    dynamo_store: DynamoStore, raw_dynamo: Any, dynamo_table: str
) -> None:
    raw_dynamo.delete_table(TableName=dynamo_table)
    with pytest.raises(StoreNotWritable, match=r"is not writable: .*chime-bot init-store"):
        await dynamo_store.check_writable()


async def test_dynamodb_check_writable_names_the_iam_actions(
    dynamo_store: DynamoStore, dynamo_table: str
) -> None:
    described = {
        "Table": {
            "TableName": dynamo_table,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [{"IndexName": "gsi1"}],
        }
    }
    with Stubber(dynamo_store._client) as stub:
        stub.add_response("describe_table", described)
        stub.add_client_error(
            "update_item", "AccessDeniedException", "not authorized to perform UpdateItem"
        )
        with pytest.raises(StoreNotWritable) as caught:
            await dynamo_store.check_writable()
    message = str(caught.value)
    assert f"dynamodb://{dynamo_table} is not writable" in message
    assert "AccessDeniedException" in message
    for action in ("dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"):
        assert action in message


async def test_dynamodb_init_table_is_idempotent(dynamo_table: str, raw_dynamo: Any) -> None:
    again = init_table(dynamo_table)

    assert again[0].startswith(f"table {dynamo_table} already exists")
    assert again[-1] == "TTL already enabled on attribute ttl"
    table = raw_dynamo.describe_table(TableName=dynamo_table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["Projection"]["ProjectionType"]) == ("gsi1", "KEYS_ONLY")
    ttl = raw_dynamo.describe_time_to_live(TableName=dynamo_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_dynamodb_init_table_reports_what_it_created(
    moto_dynamo: MotoDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_dynamo.use(monkeypatch)
    lines = init_table("chime-init-report")
    try:
        assert lines == [
            "created table chime-init-report in us-east-1 (on-demand billing, index gsi1)",
            "table chime-init-report is ACTIVE",
            "enabled TTL on attribute ttl (finished requests are deleted about 30 days after "
            "they close)",
        ]
    finally:
        moto_dynamo.admin.delete_table(TableName="chime-init-report")


def test_dynamodb_iam_policy_template_covers_what_the_store_calls() -> None:
    filled = IAM_POLICY_TEMPLATE.replace("<region>", "eu-west-1")
    filled = filled.replace("<account-id>", "123456789012").replace("<table>", "chime")
    policy = json.loads(filled)
    runtime, init, audit = policy["Statement"]
    assert set(runtime["Action"]) >= {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
    }
    assert "arn:aws:dynamodb:eu-west-1:123456789012:table/chime/index/*" in runtime["Resource"]
    assert set(init["Action"]) == {
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:DescribeTimeToLive",
    }
    assert audit["Action"] == ["dynamodb:Scan"], "chime-bot audit reads the trail with Scan"
    assert "dynamodb:Scan" not in runtime["Action"], "the bot itself never scans"
