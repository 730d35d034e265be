"""The allowance for replicas' clocks in deadline rules (bot/aws_clock.py), on both backends: a
decision needs the deadline more than the margin ahead (never approved after it, by a clock up to
the margin behind), and a request counts as expired only the margin after it (never before it,
by a clock up to the margin ahead).

Runs against SQLite and DynamoDB on moto's server, through the fixtures of the store contract.
"""

from __future__ import annotations

from dataclasses import replace

from bot.store import Move, RequestStore, Status
from tests.store.test_store_contract import (
    NOW,
    backend,
    dynamo_store,
    make_request,
    raw_dynamo,
    store,
)

pytest_plugins = ("tests.dynamo",)
__all__ = ["backend", "dynamo_store", "raw_dynamo", "store"]  # fixtures, used by name

MARGIN = 5.0


async def test_no_decision_within_the_margin_of_the_deadline(store: RequestStore) -> None:
    close, claimed, denied = [
        await store.file(make_request(email=f"m{i}@example.com", expires_at=NOW + 10), now=NOW)
        for i in range(3)
    ]
    # 4 s before the deadline by this clock: another replica's clock may already be past it.
    late = NOW + 6
    assert not (await store.transition(close.id, Move.claim_approval("UA", late, margin=MARGIN))).ok
    assert not (await store.transition(close.id, Move.deny("UA", late, margin=MARGIN))).ok
    assert (await store.get(close.id)).status == Status.PENDING  # type: ignore[union-attr]

    early = NOW + 4
    assert (await store.transition(claimed.id, Move.claim_approval("UA", early, margin=MARGIN))).ok
    assert (await store.transition(denied.id, Move.deny("UA", early, margin=MARGIN))).ok


async def test_a_follower_takes_its_leads_margin_too(store: RequestStore) -> None:
    lead = make_request(email="l0@example.com", expires_at=NOW + 10)
    lead = replace(lead, batch_id=lead.id)
    ok, refused = (
        make_request(email=f"l{i}@example.com", batch_id=lead.id, expires_at=NOW + 10)
        for i in (1, 2)
    )
    for request in (lead, ok, refused):
        await store.file(request, now=NOW)
    decided = replace(lead, status=Status.APPROVING, decided_by="UA", decided_at=NOW + 4)
    assert (
        await store.transition(ok.id, Move.follow(decided, "system", NOW + 70, margin=MARGIN))
    ).ok
    close = replace(decided, decided_at=NOW + 6)
    move = Move.follow(close, "system", NOW + 6, margin=MARGIN)
    assert not (await store.transition(refused.id, move)).ok


def test_expiry_waits_the_margin_past_the_deadline() -> None:
    request = make_request(expires_at=NOW + 10)
    assert not request.is_expired(NOW + 10 + MARGIN - 0.1, margin=MARGIN)
    assert request.is_expired(NOW + 10 + MARGIN, margin=MARGIN)
    assert request.is_expired(NOW + 10), "no margin: at the deadline, as before"
