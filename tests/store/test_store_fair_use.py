"""The fair-use cap held by the store's own write (`file(..., max_open=)`), so that it holds
across replicas: several store objects on one SQLite file or one DynamoDB table (moto's server),
filing for one person at once, never leave more than the cap open.

Runs against SQLite and DynamoDB on moto's server, through the fixtures of the store contract.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import DynamoStore, InviteRequest, Move, RequestStore, TooManyOpen
from bot.store.quota import quota_key
from tests.store.test_store_contract import (
    NOW,
    Backend,
    backend,
    deny,
    dynamo_store,
    make_request,
    raw_dynamo,
    store,
)

pytest_plugins = ("tests.dynamo",)
__all__ = ["backend", "dynamo_store", "raw_dynamo", "store"]  # fixtures, used by name

CAP = 3
PERSON = "UBUSY"


def mine(n: int, **fields: Any) -> InviteRequest:
    return make_request(email=f"p{n}@example.com", requester=PERSON, **fields)


async def attempt(store: RequestStore, n: int) -> InviteRequest | None:
    try:
        return await store.file(mine(n), now=NOW, max_open=CAP)
    except TooManyOpen as refused:
        assert refused.held == CAP
        return None


async def test_replicas_filing_for_one_person_at_once_never_pass_the_cap(
    backend: Backend,
) -> None:
    replicas = [await backend.open() for _ in range(3)]

    outcomes = await asyncio.gather(*(attempt(replicas[n % 3], n) for n in range(18)))

    filed = [r for r in outcomes if r is not None]
    assert len(filed) == CAP
    for replica in replicas:
        assert await replica.count_open_by_requester(PERSON, now=NOW) == CAP
        assert sorted(r.id for r in await replica.list_open(now=NOW)) == sorted(r.id for r in filed)
    # Someone else is not held back by it.
    await replicas[0].file(make_request(email="x@example.com", requester="UOTHER"), now=NOW)


async def test_a_decision_or_a_lapse_frees_a_place(store: RequestStore) -> None:
    first = await store.file(mine(0), now=NOW, max_open=CAP)
    lapsing = await store.file(mine(1, expires_at=NOW + 10), now=NOW, max_open=CAP)
    await store.file(mine(2), now=NOW, max_open=CAP)
    with pytest.raises(TooManyOpen):
        await store.file(mine(3), now=NOW + 1, max_open=CAP)

    assert (await deny(store, first.id)).ok
    await store.file(mine(4), now=NOW + 2, max_open=CAP)
    with pytest.raises(TooManyOpen):
        await store.file(mine(5), now=NOW + 3, max_open=CAP)

    # Past its deadline a pending request no longer counts, swept or not.
    assert (await store.get(lapsing.id)).is_open  # type: ignore[union-attr]
    await store.file(mine(6), now=NOW + 11, max_open=CAP)
    assert await store.count_open_by_requester(PERSON, now=NOW + 11) == CAP


async def test_a_bulk_invite_counts_once(store: RequestStore) -> None:
    await store.file(mine(0), now=NOW, max_open=CAP)
    await store.file(mine(1), now=NOW, max_open=CAP)
    lead = await store.file(mine(2, id="REQ-LEADLEADLE", batch_id="REQ-LEADLEADLE"), now=NOW)
    for n in range(3, 8):  # its later requests are part of the third filing
        await store.file(mine(n, batch_id=lead.id), now=NOW, max_open=CAP)
    assert await store.count_open_by_requester(PERSON, now=NOW) == CAP
    with pytest.raises(TooManyOpen):
        await store.file(mine(9), now=NOW, max_open=CAP)

    # Its first request decided, one of the others still open: the batch still counts.
    assert (await deny(store, lead.id)).ok
    with pytest.raises(TooManyOpen):
        await store.file(mine(10), now=NOW, max_open=CAP)
    for member in await store.list_batch(lead.id):
        if member.is_open:
            assert (await store.transition(member.id, Move.deny("UAPPROVER", NOW + 1))).ok
    await store.file(mine(11), now=NOW + 2, max_open=CAP)


async def test_without_a_cap_the_store_files_as_before(store: RequestStore) -> None:
    for n in range(CAP + 2):
        await store.file(mine(n), now=NOW)
    assert await store.count_open_by_requester(PERSON, now=NOW) == CAP + 2
    with pytest.raises(TooManyOpen) as refused:
        await store.file(mine(99), now=NOW, max_open=CAP)
    assert refused.value.held == CAP + 2


async def test_dynamodb_counts_requests_filed_before_the_open_filings_item(
    dynamo_store: DynamoStore, raw_dynamo: Any
) -> None:
    for n in range(CAP):
        await dynamo_store.file(mine(n), now=NOW)
    # As a table written by an older build, or by migrate-store: no open-filings item yet.
    raw_dynamo.delete_item(TableName=dynamo_store.table, Key=quota_key(PERSON))

    with pytest.raises(TooManyOpen):
        await dynamo_store.file(mine(CAP), now=NOW, max_open=CAP)
    first = (await dynamo_store.list_open(now=NOW))[0]
    assert (await dynamo_store.transition(first.id, Move.deny("UAPPROVER", NOW + 1))).ok
    await dynamo_store.file(mine(CAP + 1), now=NOW + 2, max_open=CAP)
    item = raw_dynamo.get_item(
        TableName=dynamo_store.table, Key=quota_key(PERSON), ConsistentRead=True
    )["Item"]
    assert len(item["open"]["L"]) == CAP
