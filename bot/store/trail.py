"""How the audit trail is ordered, the same for every backend.

One request's trail is in the order its events took effect: the order of the writes that made
them, which only the store knows. SQLite serializes its writers, so the audit row's `seq` is
commit order; DynamoDB numbers each audit item with the request's `version` that its write
moved on, on condition that nothing moved it first. An event's timestamp is the `now` its caller
read before writing, kept as the clock gave it: on several replicas a write made second may
carry the earlier time (the second approver's replica read its clock first), so time alone
would show a claim before the approval it needed.

Across requests (`audit_events`, `chime-bot audit`) events go by time, without ever putting a
request's own events out of their order: each event sorts at the latest (time, write order)
its request had reached by then, in its trail's order; ties go by request id, then by place in
that trail. An event stamped earlier than one before it in its trail is therefore listed just
after that one, shown with its own time. The since/until bounds select by the recorded time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from bot.store.model import AuditEvent

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

    Written = TypeVar("Written", bound=SupportsRichComparison)
else:
    Written = TypeVar("Written")


def in_time_order(
    trails: Iterable[Sequence[tuple[AuditEvent, Written]]],
    *,
    since: float | None = None,
    until: float | None = None,
) -> list[AuditEvent]:
    """The events of several requests' trails (each in its own order, with a write order that
    compares across requests, as far as the backend knows one) with since <= at < until, by
    time as the module docstring says."""
    keyed: list[tuple[tuple[tuple[float, Written], str, int], AuditEvent]] = []
    for trail in trails:
        reached: tuple[float, Written] | None = None
        for index, (event, written) in enumerate(trail):
            mark = (event.at, written)
            reached = mark if reached is None or reached < mark else reached
            if within(event.at, since, until):
                keyed.append(((reached, event.request_id, index), event))
    keyed.sort(key=lambda pair: pair[0])
    return [event for _, event in keyed]


def within(at: float, since: float | None, until: float | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)
