"""Time-bound access in the store (issue 21), on SQLite and DynamoDB alike: an approved invite
gets its end in the approval's own write, is listed while it runs, and its end is claimed once
(`Move.end_access`) whatever the number of store objects racing; an extension moves the end
only while it is the end it was decided on."""

from __future__ import annotations

import asyncio

from bot.store import InviteRequest, Move, RequestStore, Status
from tests.store.test_store_contract import (  # noqa: F401  (fixtures, reused)
    NOW,
    Backend,
    backend,
    claim,
    make_request,
    store,
)

pytest_plugins = ("tests.dynamo",)

HOURS8 = 8 * 3600.0


async def approved_for(into: RequestStore, seconds: float) -> InviteRequest:
    request = make_request(params={"access_for": str(int(seconds))})
    await into.file(request, now=NOW)
    assert (await claim(into, request.id, "UAPPROVER")).ok
    done = Move.finish(Status.APPROVED, "UAPPROVER", NOW + 2, access_until=NOW + 2 + seconds)
    finished = await into.transition(request.id, done)
    assert finished.ok and finished.request is not None
    return finished.request


async def test_a_running_access_is_listed_with_its_end_until_its_end_is_claimed(
    store: RequestStore,  # noqa: F811
) -> None:
    lasting = make_request(email="lasting@example.com")
    await store.file(lasting, now=NOW)
    bound = await approved_for(store, HOURS8)
    assert bound.access_until == NOW + 2 + HOURS8 and bound.access_for == HOURS8
    assert [r.id for r in await store.list_time_bound()] == [bound.id]
    assert bound.id in {r.id for r in await store.list_by_status(Status.APPROVED)}

    early = await store.transition(bound.id, Move.end_access(NOW + 2 + HOURS8, NOW + 3600))
    assert not early.ok  # not before its end
    ended = await store.transition(bound.id, Move.end_access(NOW + 2 + HOURS8, NOW + HOURS8 + 3))
    assert ended.ok and ended.request is not None
    assert ended.request.access_ended_at == NOW + HOURS8 + 3
    assert await store.list_time_bound() == []
    assert (await store.get(bound.id)) == ended.request
    (event,) = [e for e in await store.audit_trail(bound.id) if e.action == "access_ended"]
    assert event.actor == "system" and event.detail["why"] == "access ended"


async def test_one_of_many_store_objects_claims_the_end(backend: Backend) -> None:  # noqa: F811
    stores = [await backend.open() for _ in range(4)]
    bound = await approved_for(stores[0], HOURS8)
    until = NOW + 2 + HOURS8
    moves = [s.transition(bound.id, Move.end_access(until, until + 5)) for s in stores * 3]
    won = [t for t in await asyncio.gather(*moves) if t.ok]
    assert len(won) == 1
    trail = await stores[1].audit_trail(bound.id)
    assert [e.action for e in trail].count("access_ended") == 1


async def test_an_extension_moves_the_end_only_from_the_end_it_was_decided_on(
    store: RequestStore,  # noqa: F811
) -> None:
    bound = await approved_for(store, HOURS8)
    until = NOW + 2 + HOURS8
    later = until + HOURS8
    stale = Move.extend_access("UAPPROVER", NOW + 10, until=until - 1, to=later, extension="X")
    assert not (await store.transition(bound.id, stale)).ok
    moved = Move.extend_access("UAPPROVER", NOW + 10, until=until, to=later, extension="REQ-X")
    done = await store.transition(bound.id, moved)
    assert done.ok and done.request is not None and done.request.access_until == later
    # The old end is no end any more: claiming it is refused, and the new one is still listed.
    assert not (await store.transition(bound.id, Move.end_access(until, until + 5))).ok
    assert [r.access_until for r in await store.list_time_bound()] == [later]
    ended = await store.transition(bound.id, Move.end_access(later, later + 5))
    assert ended.ok
    # An ended access is extended no more.
    again = Move.extend_access("UAPPROVER", later + 6, until=later, to=later + 1, extension="Y")
    assert not (await store.transition(bound.id, again)).ok
