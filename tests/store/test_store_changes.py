"""Contract tests for a request's change (issue 21): which call it stands for and that call's
parameters, kept by both backends (SQLite, and DynamoDB on moto's server) through the
protocol; one open request per person, account and kind of change; the SQLite upgrade that
keeps older rows as invites; and what a build from before changes makes of a DynamoDB item
of one (it must never read it as an invite)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.store import (
    DuplicateRequest,
    DynamoStore,
    InviteRequest,
    Move,
    RequestStore,
    SqliteStore,
    Status,
)
from bot.store.codec import dedupe_key
from bot.store.items import plain_record
from bot.store.model import Change
from bot.store.sqlite import SCHEMA_VERSION
from tests.store import before_changes_codec
from tests.store.test_store_contract import (  # noqa: F401  (fixtures, reused)
    ACCOUNT,
    NOW,
    OTHER_ACCOUNT,
    backend,
    claim,
    deny,
    make_request,
    store,
)

pytest_plugins = ("tests.dynamo",)

USER_ID = "a1b2c3d4-0000-1111-2222-333344445555"
PARAMS: dict[Change, dict[str, str]] = {
    Change.INVITE: {},
    Change.SUSPEND: {"user_id": USER_ID},
    Change.UNSUSPEND: {"user_id": USER_ID},
    Change.LOGOUT: {"user_id": USER_ID},
    Change.RESET_PIN: {"user_id": USER_ID},
    Change.LICENSE: {"user_id": USER_ID, "license": "Pro", "note": "ünïcode ✓"},
    Change.EXTEND: {"access_of": "REQ-AAAAAAAAAA", "from_until": "1.5", "until": "2.5"},
}


def change_request(change: Change, **overrides: Any) -> InviteRequest:
    return make_request(change=change, params=dict(PARAMS[change]), **overrides)


# --- round trip -----------------------------------------------------------------------------


async def test_every_change_and_its_params_come_back_from_every_read(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    filed = []
    for n, change in enumerate(Change):
        request = change_request(change, email=f"p{n}@example.com", requester="UALICE")
        stored = await store.file(request, now=NOW + n)
        assert (stored.change, stored.params) == (change, PARAMS[change])
        assert await store.get(request.id) == stored
        filed.append(stored)

    by_id = {r.id: r for r in filed}
    assert {r.id: r for r in await store.list_open(now=NOW + 10)} == by_id
    assert {r.id: r for r in await store.list_by_status(Status.PENDING)} == by_id
    assert {r.id: r for r in await store.recent_by_requester("UALICE", limit=20)} == by_id


async def test_a_bulk_of_changes_lists_with_its_changes(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    lead = change_request(Change.LOGOUT, email="l1@example.com")
    lead = await store.file(replace(lead, batch_id=lead.id), now=NOW)
    member = await store.file(
        change_request(Change.LOGOUT, email="l2@example.com", batch_id=lead.id, created_at=NOW + 1),
        now=NOW + 1,
    )
    assert await store.list_batch(lead.id) == [lead, member]


@pytest.mark.parametrize("change", list(Change))
async def test_moves_keep_the_change_and_its_params(
    store: RequestStore,  # noqa: F811  (the fixture)
    change: Change,
) -> None:
    request = await store.file(change_request(change), now=NOW)
    claimed = await claim(store, request.id, "UAPPROVER")
    assert claimed.ok and claimed.request is not None
    assert (claimed.request.change, claimed.request.params) == (change, PARAMS[change])
    done = Move.finish(Status.APPROVED, "system", NOW + 2, result={"outcome": "done"})
    assert (await store.transition(request.id, done)).ok

    got = await store.get(request.id)
    assert got is not None and (got.change, got.params) == (change, PARAMS[change])
    assert got.status == Status.APPROVED
    # Listed by the status it is in now, and no longer by the one it left.
    assert [r.id for r in await store.list_by_status(Status.APPROVED)] == [request.id]
    assert await store.list_by_status(Status.PENDING) == []
    assert await store.list_by_status(Status.APPROVING) == []


async def test_two_person_approval_keeps_the_change(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    request = await store.file(change_request(Change.SUSPEND, approvals_required=2), now=NOW)
    recorded = await store.record_approval(request.id, approver="UALICE", now=NOW + 1)
    assert recorded.ok and recorded.request is not None
    assert recorded.request.change == Change.SUSPEND
    assert recorded.request.params == PARAMS[Change.SUSPEND]
    assert await store.get(request.id) == recorded.request


# --- one open request per person, account and kind of change --------------------------------


def test_the_invite_key_is_what_it_always_was() -> None:
    # Rows and lock items written before changes hold this key: it must not move.
    assert dedupe_key("Ada@Example.com", ACCOUNT) == f"{ACCOUNT}#ada@example.com"
    assert dedupe_key("Ada@Example.com", ACCOUNT, Change.INVITE) == f"{ACCOUNT}#ada@example.com"
    assert dedupe_key("Ada@Example.com", ACCOUNT, Change.SUSPEND) == (
        f"{ACCOUNT}#ada@example.com#suspend"
    )
    keys = {dedupe_key("ada@example.com", ACCOUNT, change) for change in Change}
    assert len(keys) == len(Change)


async def test_a_suspension_is_not_blocked_by_an_open_invite(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    invite = await store.file(make_request(), now=NOW)
    suspend = await store.file(change_request(Change.SUSPEND, email="ADA@example.com"), now=NOW)

    assert await store.find_open("ada@example.com", ACCOUNT, now=NOW + 1) == invite
    found = await store.find_open("ada@example.com", ACCOUNT, now=NOW + 1, change=Change.SUSPEND)
    assert found == suspend
    assert (
        await store.find_open("ada@example.com", ACCOUNT, now=NOW + 1, change=Change.LOGOUT) is None
    )


async def test_a_license_change_is_not_blocked_by_an_open_logout(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    await store.file(change_request(Change.LOGOUT), now=NOW)
    license_change = await store.file(change_request(Change.LICENSE), now=NOW + 1)
    assert await store.get(license_change.id) == license_change


@pytest.mark.parametrize("change", [c for c in Change if c != Change.INVITE])
async def test_a_second_open_request_of_one_kind_is_refused(
    store: RequestStore,  # noqa: F811  (the fixture)
    change: Change,
) -> None:
    first = await store.file(change_request(change), now=NOW)
    again = change_request(change, email="ADA@Example.COM")

    with pytest.raises(DuplicateRequest) as caught:
        await store.file(again, now=NOW + 10)

    assert caught.value.existing == first
    assert await store.get(again.id) is None
    # The same change on another account is another request.
    await store.file(change_request(change, account_id=OTHER_ACCOUNT), now=NOW + 10)


async def test_an_open_invite_still_blocks_only_invites(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    await store.file(change_request(Change.SUSPEND), now=NOW)
    invite = await store.file(make_request(), now=NOW)  # a suspension does not block it
    with pytest.raises(DuplicateRequest) as caught:
        await store.file(make_request(email="ADA@example.com"), now=NOW + 1)
    assert caught.value.existing == invite


async def test_a_decided_change_no_longer_blocks_the_next_of_its_kind(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    first = await store.file(change_request(Change.RESET_PIN), now=NOW)
    assert (await deny(store, first.id)).ok
    assert (
        await store.find_open("ada@example.com", ACCOUNT, now=NOW + 2, change=Change.RESET_PIN)
        is None
    )
    second = await store.file(change_request(Change.RESET_PIN), now=NOW + 2)
    with pytest.raises(DuplicateRequest) as caught:
        await store.file(change_request(Change.RESET_PIN), now=NOW + 3)
    assert caught.value.existing == second


# --- SQLite: the schema upgrade -------------------------------------------------------------


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_sqlite_upgrades_a_version_5_store_keeping_its_rows_as_invites(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    async with await SqliteStore.open(path) as old:
        request = await old.file(make_request(), now=NOW)
    raw = _raw(path)
    # As a version-5 build left it.
    raw.execute("ALTER TABLE requests DROP COLUMN change")
    raw.execute("ALTER TABLE requests DROP COLUMN params")
    raw.execute("PRAGMA user_version = 5")
    raw.close()

    async with await SqliteStore.open(path) as upgraded:
        got = await upgraded.get(request.id)
        assert got == request and got.change == Change.INVITE and got.params == {}
        # Its dedupe key still holds: a second invite is refused, a suspension is not.
        with pytest.raises(DuplicateRequest):
            await upgraded.file(make_request(), now=NOW + 1)
        suspend = await upgraded.file(change_request(Change.SUSPEND), now=NOW + 1)
        assert await upgraded.get(suspend.id) == suspend
    raw = _raw(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 7
    raw.close()


# --- DynamoDB: a build from before changes, sharing the table -------------------------------


async def test_an_older_build_never_reads_a_change_as_an_invite(
    dynamo_table: str, moto_dynamo: Any
) -> None:
    client = moto_dynamo.admin
    async with await DynamoStore.open(dynamo_table) as new:
        invite = await new.file(make_request(email="new-hire@example.com"), now=NOW)
        changes = [
            await new.file(change_request(change, email=f"{change.value}@example.com"), now=NOW)
            for change in Change
            if change != Change.INVITE
        ]
        for request in changes:
            # What an older build's `get` reads, decoded as it decodes: refused outright.
            item = client.get_item(
                TableName=dynamo_table,
                Key={"pk": {"S": f"REQ#{request.id}"}, "sk": {"S": "REQUEST"}},
                ConsistentRead=True,
            )["Item"]
            with pytest.raises(KeyError):
                before_changes_codec.from_record(plain_record(item))
        # An invite still reads as it always did.
        item = client.get_item(
            TableName=dynamo_table,
            Key={"pk": {"S": f"REQ#{invite.id}"}, "sk": {"S": "REQUEST"}},
            ConsistentRead=True,
        )["Item"]
        assert before_changes_codec.from_record(plain_record(item)) == invite

        # An older build's lists query the status index by STATUS#<status>: they find the
        # invite only, so its sweeps never meet a change (skipped, not refused).
        for request in changes:
            assert (await claim(new, request.id, "UAPPROVER")).ok
        for status in Status:
            listed = client.query(
                TableName=dynamo_table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :status",
                ExpressionAttributeValues={":status": {"S": f"STATUS#{status.value}"}},
            )["Items"]
            expected = [f"REQ#{invite.id}"] if status == Status.PENDING else []
            assert [i["pk"]["S"] for i in listed] == expected, status
        # ...while this build lists every one of them.
        approving = await new.list_by_status(Status.APPROVING)
        assert sorted(r.id for r in approving) == sorted(r.id for r in changes)
