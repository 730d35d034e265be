"""`chime-bot migrate-store` as an operator runs it: a real process copying between a SQLite file
and a DynamoDB table on moto's server, both ways, stopped half-way and run again."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.store import (
    AuditEvent,
    Change,
    DuplicateRequest,
    InviteRequest,
    Move,
    RequestStore,
    Status,
    open_store,
)
from bot.store.items import audit_item
from tests.cli import run_cli_async

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

T0 = 1_700_000_000.0
FAR = 4_000_000_000.0  # a deadline still ahead when the copy runs: these requests stay open
ACCOUNT = "11111111-2222-3333-4444-555555555555"
ORPHAN = "REQ-ORPHANORPH"  # events whose request is gone (DynamoDB TTL) or was never filed


def _request(n: int, **fields: object) -> InviteRequest:
    base: dict[str, object] = {
        "id": _rid(n),
        "email": f"person{n}@example.com",
        "user_type": "PrivateUser",
        "reason": f"hire {n}\x1b[2J",
        "account_id": ACCOUNT,
        "account_name": "Example Corp",
        "account_type": "EnterpriseLWA",
        "requester": f"U0REQ{n % 3}",
        "origin_channel": "C0DEMOCHAN",
        "created_at": T0 + n,
        "expires_at": FAR,
    }
    base.update(fields)
    return InviteRequest(**base)  # type: ignore[arg-type]


def _rid(n: int) -> str:
    return "REQ-" + "".join("ABCDEFGHIJ"[int(d)] for d in f"{n:010d}")


async def fill(store: RequestStore, count: int) -> None:
    """`count` requests in every state a trail can reach, some filed at one instant, one
    approved with its outcome stamped by a clock behind the claim's, a bulk invite of three, a
    two-person approval half done, and a trail with no request."""
    # The first three filed at one instant, in the reverse of their ids' order: a copy must
    # keep the order they were written in, not take the order it copies them in.
    for n in [2, 1, 0, *range(3, count)]:
        at = T0 if n < 3 else T0 + n
        await store.file(_request(n, created_at=at), now=at)
    assert (await store.transition(_rid(0), Move.claim_approval("U0APPROVER1", T0 + 50))).ok
    late = Move.finish(Status.APPROVED, "system", T0 + 40, result={"user_id": "u-0"})
    assert (await store.transition(_rid(0), late)).ok  # stamped before the claim it ends
    assert (await store.transition(_rid(1), Move.deny("U0APPROVER2", T0 + 60))).ok
    await store.record(AuditEvent(_rid(1), T0 + 60, "U0REQ1", "refused", {"why": "again"}))
    assert (await store.transition(_rid(2), Move.claim_approval("U0APPROVER1", T0 + 70))).ok
    failed = Move.finish(Status.FAILED, "system", T0 + 71, error="Throttling\u202e")
    assert (await store.transition(_rid(2), failed)).ok
    two = _request(900, email="two@example.com", approvals_required=2)
    await store.file(two, now=T0 + 80)
    assert (await store.record_approval(two.id, approver="U0ALICE", now=T0 + 81)).ok
    lead = await store.file(_request(901, email="b1@example.com", batch_id=_rid(901)), now=T0 + 90)
    for n in (902, 903):
        member = _request(n, email=f"b{n}@example.com", batch_id=lead.id)
        await store.file(member, now=T0 + 90)
    await store.record(AuditEvent(ORPHAN, T0 + 100, "U0REQ9", "refused", {"reason": "cap"}))
    reminded = await store.get(_rid(3))
    if reminded is not None:  # still pending: its one reminder was sent
        assert await store.claim_reminder(reminded, now=T0 + 110, lease=60) is not None
        sent = AuditEvent(reminded.id, T0 + 111, "system", "reminded", {"channel": "C0APPROVALS"})
        assert await store.reminder_sent(reminded.id, sent)


@dataclass(frozen=True)
class Snapshot:
    events: list[AuditEvent]
    trails: dict[str, list[AuditEvent]]
    requests: dict[str, InviteRequest | None]
    by_status: dict[Status, list[str]]


async def snapshot(url: str, data_dir: Path) -> Snapshot:
    store = await open_store(url, data_dir=data_dir)
    try:
        events = await store.audit_events()
        ids = sorted({e.request_id for e in events})
        return Snapshot(
            events,
            {i: await store.audit_trail(i) for i in ids},
            {i: await store.get(i) for i in ids},
            {s: [r.id for r in await store.list_by_status(s)] for s in Status},
        )
    finally:
        await store.close()


@dataclass
class Stores:
    env: dict[str, str]
    sqlite: str
    dynamodb: str
    data_dir: Path


@pytest.fixture
def stores(dynamo_table: str, moto_dynamo: MotoDynamo, tmp_path: Path) -> Stores:
    return Stores(
        moto_dynamo.env(),
        f"sqlite:///{tmp_path / 'state.db'}",
        f"dynamodb://{dynamo_table}",
        tmp_path,
    )


async def filled(url: str, data_dir: Path, count: int) -> Snapshot:
    store = await open_store(url, data_dir=data_dir)
    try:
        await fill(store, count)
    finally:
        await store.close()
    return await snapshot(url, data_dir)


async def migrate(stores: Stores, source: str, destination: str) -> tuple[int, str, str]:
    return await run_cli_async(stores.env, "migrate-store", "--from", source, "--to", destination)


@pytest.mark.parametrize("direction", ["sqlite-to-dynamodb", "dynamodb-to-sqlite"])
async def test_a_copy_holds_every_request_and_trail_and_a_second_run_copies_nothing(
    stores: Stores, direction: str
) -> None:
    source, destination = (stores.sqlite, stores.dynamodb)
    if direction == "dynamodb-to-sqlite":
        source, destination = destination, source
    before = await filled(source, stores.data_dir, 8)
    assert len(before.events) == 12 + 5 + 1 + 2 + 1  # filings, decisions, an approval, refusals
    # and a reminder

    code, out, err = await migrate(stores, source, destination)

    assert code == 0, err
    assert "copied REQ-AAAAAAAAAA (3 audit events)" in out
    assert f"copied {ORPHAN} (1 audit event)" in out
    assert out.splitlines()[-1] == (
        "Verified: both stores hold 12 requests and 21 audit events, every trail the same."
    )
    after = await snapshot(destination, stores.data_dir)
    assert after == before
    # The outcome stamped before its claim still comes after it.
    assert [e.action for e in after.trails[_rid(0)]] == ["filed", "approve_claimed", "approved"]

    code, out, err = await migrate(stores, source, destination)
    assert code == 0, err
    assert out.splitlines() == [
        "Nothing to copy: the destination already holds all 12 requests and 21 audit events.",
        "Verified: both stores hold 12 requests and 21 audit events, every trail the same.",
    ]
    assert await snapshot(destination, stores.data_dir) == before

    copy = await open_store(destination, data_dir=stores.data_dir)
    try:
        # A reminder sent before the copy is not sent again; one never sent still may be.
        for n, may in ((3, False), (4, True)):
            request = await copy.get(_rid(n))
            assert request is not None
            token = await copy.claim_reminder(request, now=T0 + 500, lease=60)
            assert (token is not None) is may, n
    finally:
        await copy.close()


async def test_the_copy_is_a_store_the_bot_can_go_on_with(stores: Stores) -> None:
    await filled(stores.sqlite, stores.data_dir, 5)
    code, _, err = await migrate(stores, stores.sqlite, stores.dynamodb)
    assert code == 0, err

    store = await open_store(stores.dynamodb, data_dir=stores.data_dir)
    try:
        # An open request still blocks a second one for the same person and account...
        with pytest.raises(DuplicateRequest):
            await store.file(_request(77, email="PERSON4@example.com"), now=T0)
        # ...and its trail goes on after what was copied.
        assert (await store.transition(_rid(4), Move.deny("U0APPROVER1", T0 + 500))).ok
        trail = await store.audit_trail(_rid(4))
        assert [e.action for e in trail] == ["filed", "denied"]
        recent = await store.recent_by_requester("U0REQ1", limit=5)
        assert [r.id for r in recent] == [_rid(901), _rid(4), _rid(1)]
        assert [r.id for r in await store.list_batch(_rid(901))] == [
            _rid(n) for n in (901, 902, 903)
        ]
    finally:
        await store.close()


async def test_a_run_the_database_stopped_half_way_resumes(stores: Stores) -> None:
    before = await filled(stores.dynamodb, stores.data_dir, 8)
    destination = stores.data_dir / "copy.db"
    store = await open_store(f"sqlite:///{destination}", data_dir=stores.data_dir)
    await store.close()
    with sqlite3.connect(destination) as db:
        # The database itself refuses the fourth request, as a full disk would.
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON requests "
            "WHEN (SELECT count(*) FROM requests) >= 3 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )

    code, out, err = await migrate(stores, stores.dynamodb, f"sqlite:///{destination}")

    assert code == 1 and "database or disk is full" in err
    assert out.count("copied ") == 3
    half = await snapshot(f"sqlite:///{destination}", stores.data_dir)
    assert sum(r is not None for r in half.requests.values()) == 3
    # Each request that is there came with its whole trail.
    assert all(half.trails[i] == before.trails[i] for i in half.trails)

    with sqlite3.connect(destination) as db:
        db.execute("DROP TRIGGER full")
    code, out, err = await migrate(stores, stores.dynamodb, f"sqlite:///{destination}")

    assert code == 0, err
    assert "[1/10] copied" in out and out.count("copied ") == 10  # 9 requests, 1 lone trail
    assert await snapshot(f"sqlite:///{destination}", stores.data_dir) == before


async def test_a_killed_run_resumes(stores: Stores) -> None:
    before = await filled(stores.sqlite, stores.data_dir, 24)
    args = ["migrate-store", "--from", stores.sqlite, "--to", stores.dynamodb]
    proc = subprocess.Popen(  # noqa: ASYNC220 - its lines are read off the loop, below
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **stores.env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [await asyncio.to_thread(proc.stdout.readline) for _ in range(2)]
        assert all(" copied " in line for line in lines), lines
        os.kill(proc.pid, signal.SIGKILL)  # mid-way: as a stopped task or a lost shell would
    finally:
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    half = await snapshot(stores.dynamodb, stores.data_dir)
    copied = sum(r is not None for r in half.requests.values())
    assert 2 <= copied < len(before.requests), "the run was stopped before the end"

    code, out, err = await migrate(stores, stores.sqlite, stores.dynamodb)

    assert code == 0, err
    assert out.count("copied ") == len(before.requests) - copied  # the trail-only one too
    assert await snapshot(stores.dynamodb, stores.data_dir) == before


async def test_a_destination_the_bot_has_used_is_refused(stores: Stores) -> None:
    await filled(stores.sqlite, stores.data_dir, 3)
    store = await open_store(stores.dynamodb, data_dir=stores.data_dir)
    try:
        await store.file(_request(500, email="new@example.com"), now=T0)
    finally:
        await store.close()

    code, out, err = await migrate(stores, stores.sqlite, stores.dynamodb)

    assert code == 1 and out == ""
    assert "the destination holds 1 request the source does not (such as REQ-AAAAAAAFAA)" in err
    assert "Migrate into a new store" in err


async def test_mistakes_get_a_plain_answer(stores: Stores, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "state.db"
    cases = {
        ("state.db", stores.dynamodb): "--from 'state.db' is not a store URL",
        (stores.sqlite, "dynamodb://no/such"): "--to 'dynamodb://no/such' is not a store URL",
        (f"sqlite:///{missing}", stores.dynamodb): f"--from: there is no SQLite store at {missing}",
        (stores.sqlite, stores.sqlite): "--from and --to name the same store",
        (stores.sqlite, "dynamodb://chime-no-such-table"): "does not exist in region us-east-1",
    }
    store = await open_store(stores.sqlite, data_dir=tmp_path)
    await store.close()
    for (source, destination), message in cases.items():
        code, _, err = await migrate(stores, source, destination)
        assert code == 1 and message in err, (source, destination, err)
    assert not missing.parent.exists()


async def test_an_unreachable_table_is_named(stores: Stores) -> None:
    store = await open_store(stores.sqlite, data_dir=stores.data_dir)
    await store.close()
    env = {**stores.env, "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    code, _, err = await run_cli_async(
        env, "migrate-store", "--from", stores.sqlite, "--to", "dynamodb://chime-table"
    )
    assert code == 1 and "Could not connect to the endpoint URL" in err


def test_help_says_what_it_does() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate-store", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--from URL" in result.stdout and "resumes a run that stopped" in result.stdout


async def test_a_source_that_changed_between_runs_is_named(
    stores: Stores, moto_dynamo: MotoDynamo
) -> None:
    await filled(stores.dynamodb, stores.data_dir, 4)
    destination = stores.data_dir / "copy.db"
    store = await open_store(f"sqlite:///{destination}", data_dir=stores.data_dir)
    await store.close()
    with sqlite3.connect(destination) as db:
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON requests WHEN (SELECT count(*) FROM requests) "
            ">= 2 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    code, _, _ = await migrate(stores, stores.dynamodb, f"sqlite:///{destination}")
    assert code == 1
    # Meanwhile a replica whose clock ran behind wrote an event that sorts before all others.
    early = audit_item(AuditEvent("REQ-LATELATELA", T0, "U0X", "refused", {}), "0" * 28, 0)
    moto_dynamo.admin.put_item(TableName=stores.dynamodb.removeprefix("dynamodb://"), Item=early)
    with sqlite3.connect(destination) as db:
        db.execute("DROP TRIGGER full")

    code, _, err = await migrate(stores, stores.dynamodb, f"sqlite:///{destination}")

    assert code == 1 and "the source changed since the run that started this copy" in err


@pytest.mark.parametrize("direction", ["sqlite-to-dynamodb", "dynamodb-to-sqlite"])
async def test_a_copy_keeps_each_request_s_change_and_its_dedupe(
    stores: Stores, direction: str
) -> None:
    source, destination = (stores.sqlite, stores.dynamodb)
    if direction == "dynamodb-to-sqlite":
        source, destination = destination, source
    email = "ada@example.com"
    filed = [
        _request(10, email=email),
        _request(11, email=email, change=Change.SUSPEND, params={"user_id": "u-ada"}),
        _request(
            12, email=email, change=Change.LICENSE, params={"user_id": "u-ada", "license": "Pro"}
        ),
    ]
    store = await open_store(source, data_dir=stores.data_dir)
    try:
        for request in filed:
            await store.file(request, now=T0)
    finally:
        await store.close()

    code, _, err = await migrate(stores, source, destination)
    assert code == 0, err

    copy = await open_store(destination, data_dir=stores.data_dir)
    try:
        for request in filed:
            assert await copy.get(request.id) == replace(request, updated_at=T0)
        # Each open change still holds its own (address, account, kind), and only that.
        with pytest.raises(DuplicateRequest) as caught:
            await copy.file(_request(20, email=email, change=Change.SUSPEND), now=T0 + 1)
        assert caught.value.existing.id == _rid(11)
        with pytest.raises(DuplicateRequest) as caught:
            await copy.file(_request(21, email=email), now=T0 + 1)
        assert caught.value.existing.id == _rid(10)
        await copy.file(_request(22, email=email, change=Change.LOGOUT), now=T0 + 1)
    finally:
        await copy.close()


async def _approve_for(store: RequestStore, n: int, seconds: int, at: float) -> float:
    """File an invite `n` for `seconds` of access and approve it at `at`, through the store's
    moves as the bot makes them; its end."""
    await store.file(_request(n, params={"access_for": str(seconds)}), now=at)
    assert (await store.transition(_rid(n), Move.claim_approval("U0APPROVER1", at + 1))).ok
    until = at + 2 + seconds
    done = Move.finish(
        Status.APPROVED, "system", at + 2, result={"user_id": f"u-{n}"}, access_until=until
    )
    assert (await store.transition(_rid(n), done)).ok
    return until


@pytest.mark.parametrize("direction", ["sqlite-to-dynamodb", "dynamodb-to-sqlite"])
async def test_a_copy_keeps_time_bound_access_running_and_its_end_unclaimed(
    stores: Stores, direction: str
) -> None:
    """An access still running is listed on the destination with the same end (an extended
    one with its moved end), and its end is claimed there once, by the first sweep that is due;
    an access whose end was claimed before the copy stays ended."""
    source, destination = (stores.sqlite, stores.dynamodb)
    if direction == "dynamodb-to-sqlite":
        source, destination = destination, source
    hours = 8 * 3600
    store = await open_store(source, data_dir=stores.data_dir)
    try:
        running = await _approve_for(store, 30, hours, T0)
        extended = await _approve_for(store, 31, hours, T0 + 10)
        moved = Move.extend_access(
            "U0APPROVER1", T0 + 20, until=extended, to=extended + hours, extension=_rid(99)
        )
        assert (await store.transition(_rid(31), moved)).ok
        ended = await _approve_for(store, 32, hours, T0 + 30)
        assert (await store.transition(_rid(32), Move.end_access(ended, ended + 1))).ok
        listed = {r.id: r.access_until for r in await store.list_time_bound()}
        assert listed == {_rid(30): running, _rid(31): extended + hours}
    finally:
        await store.close()

    code, _, err = await migrate(stores, source, destination)
    assert code == 0, err

    copy = await open_store(destination, data_dir=stores.data_dir)
    try:
        copied = {r.id: r for r in await copy.list_time_bound()}
        assert {i: r.access_until for i, r in copied.items()} == listed
        assert all(r.access_ended_at is None and r.access_for == hours for r in copied.values())
        gone = await copy.get(_rid(32))
        assert gone is not None and gone.access_ended_at == ended + 1
        # Not before its end; then once, whoever asks.
        early = await copy.transition(_rid(30), Move.end_access(running, running - 1))
        assert not early.ok
        assert (await copy.transition(_rid(30), Move.end_access(running, running + 1))).ok
        assert not (await copy.transition(_rid(30), Move.end_access(running, running + 2))).ok
        assert [r.id for r in await copy.list_time_bound()] == [_rid(31)]
    finally:
        await copy.close()
