"""Contract tests for `recent_by_requester` (a person's App Home), on SQLite and on DynamoDB
(moto's server), through the protocol only: the fixtures of tests/store/test_store_contract.py."""

from __future__ import annotations

import pytest

from bot.store import RequestStore, Status
from tests.store.test_store_contract import (  # noqa: F401  (fixtures, reused)
    NOW,
    OTHER_ACCOUNT,
    backend,
    claim,
    deny,
    make_request,
    store,
)

pytest_plugins = ("tests.dynamo",)


async def test_recent_by_requester_newest_first_any_status_only_theirs(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    mine = []
    for minute in range(5):
        request = make_request(
            email=f"p{minute}@example.com", created_at=NOW + 60 * minute, requester="UALICE"
        )
        mine.append(await store.file(request, now=NOW + 60 * minute))
    await store.file(make_request(email="other@example.com", requester="UBOB"), now=NOW)
    assert (await deny(store, mine[1].id, now=NOW + 400)).ok
    assert (await claim(store, mine[2].id, "UBOB", now=NOW + 400)).ok

    recent = await store.recent_by_requester("UALICE", limit=20)

    assert [r.id for r in recent] == [r.id for r in reversed(mine)]
    by_id = {r.id: r for r in recent}
    assert by_id[mine[1].id].status == Status.DENIED, "the current status, never a stale one"
    assert by_id[mine[2].id].status == Status.APPROVING
    assert all(r.requester == "UALICE" for r in recent)
    assert [r.email for r in await store.recent_by_requester("UBOB", limit=20)] == [
        "other@example.com"
    ]
    assert await store.recent_by_requester("UNOBODY", limit=20) == []


async def test_recent_by_requester_stops_at_the_limit(
    store: RequestStore,  # noqa: F811  (the fixture)
) -> None:
    for minute in range(7):
        request = make_request(
            email=f"p{minute}@example.com",
            account_id=OTHER_ACCOUNT,
            created_at=NOW + minute,
            requester="UALICE",
        )
        await store.file(request, now=NOW + minute)

    newest = await store.recent_by_requester("UALICE", limit=3)

    assert [r.email for r in newest] == ["p6@example.com", "p5@example.com", "p4@example.com"]
    assert await store.recent_by_requester("UALICE", limit=0) == []


@pytest.mark.parametrize("requester", ["U0'; DROP TABLE requests;--", "BY#UALICE", ""])
async def test_odd_requester_ids_match_only_themselves(
    store: RequestStore,  # noqa: F811  (the fixture)
    requester: str,
) -> None:
    await store.file(make_request(requester="UALICE"), now=NOW)
    assert await store.recent_by_requester(requester, limit=5) == []
