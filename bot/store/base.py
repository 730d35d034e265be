"""The contract every request store backend implements.

Shaped so it maps onto single-item conditional writes (SQLite `UPDATE ... WHERE status IN`, a
DynamoDB `ConditionExpression` on `status` and `expires_at`): no operation needs a multi-request
transaction or a query language beyond "by id", "by dedupe key" and "by status".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.store.model import AuditEvent, Change, InviteRequest, Status
from bot.store.moves import Move


@dataclass(frozen=True, slots=True)
class Transition:
    ok: bool  # True if this call made the change
    # The request as it is now: after the change, or the current state that blocked it.
    # None if there is no such id.
    request: InviteRequest | None


class StoreError(Exception):
    """The store could not do what was asked for a reason other than the request's state."""


class StoreUnanswered(StoreError):
    """The store gave no answer to a call (the connection failed or was cut, a timeout, a 5xx
    or an unreadable reply, after the SDK's own retries): a write may have taken effect or not.
    Read the item back before saying either (bot/approvals/filing.py)."""


class StoreNotWritable(StoreError):
    """The store can be read (maybe) but not written; the message says where and why."""


class DuplicateRequest(Exception):
    def __init__(self, existing: InviteRequest) -> None:
        super().__init__(
            f"{existing.email} already has an open request on account {existing.account_id}: "
            f"{existing.id} ({existing.status.value})"
        )
        self.existing = existing


class TooManyOpen(Exception):
    """Filing would give the requester more open requests than the cap (fair use) allows."""

    def __init__(self, held: int) -> None:
        super().__init__(f"the requester already has {held} open requests")
        self.held = held


@runtime_checkable
class RequestStore(Protocol):
    async def file(
        self, request: InviteRequest, *, now: float, max_open: int | None = None
    ) -> InviteRequest:
        """Insert `request` (with updated_at=now) and its "filed" audit event, atomically.

        Raises DuplicateRequest if an open, unexpired request exists for the same
        (email.lower(), account_id, change) (codec.dedupe_key), and ValueError if the id is
        already taken. With `max_open`, raises TooManyOpen if the requester already holds that
        many open filings (as count_open_by_requester counts them) and this one is not part of
        one of them (a bulk invite's later requests are part of its first): checked in the
        same atomic write, so it holds across replicas.
        """
        ...

    async def get(self, request_id: str) -> InviteRequest | None: ...

    async def find_open(
        self, email: str, account_id: str, *, now: float, change: Change = Change.INVITE
    ) -> InviteRequest | None:
        """The open, unexpired request of this kind of `change` for this person and account,
        if any (an open invite does not stand in the way of a suspension, and so on)."""
        ...

    async def set_card(self, request_id: str, channel: str, ts: str) -> InviteRequest | None:
        """Remember where the approval card was posted; None if there is no such id."""
        ...

    async def count_open_by_requester(self, requester: str, *, now: float) -> int:
        """How many of `requester`'s requests are open and unexpired: the ones that count
        against CHIME_MAX_OPEN_PER_REQUESTER (the same ones that block a duplicate). The open
        requests of one batch (`batch_id`) count as one: they were filed as one."""
        ...

    async def list_batch(self, batch_id: str) -> list[InviteRequest]:
        """Every request filed with this `batch_id`, whatever its status, oldest first (a
        strongly consistent read: a request filed before the call is in it)."""
        ...

    async def transition(self, request_id: str, move: Move) -> Transition:
        """One conditional write of `move` (bot/store/moves.py): the request's status is one
        `move.expect` names (and expires_at > move.now if the move requires it) -> `move.to`,
        with the fields and the audit event bot/store/rules.py plans for it, in the same write.

        Besides the move's own fields it sets updated_at, and attempts+1 when the move leads to
        APPROVING. Claiming a pending request (-> APPROVING) is its final approval: it also
        requires that the approvals recorded so far number `approvals_required - 1`, none of
        them by the move's actor, and it adds the actor to `approvals`.
        """
        ...

    async def record_approval(
        self,
        request_id: str,
        *,
        approver: str,
        now: float,
        dropping: Mapping[str, str] | None = None,
    ) -> Transition:
        """Record one approval that is not the last (the two-person rule), in one conditional
        write: only while the request is pending and unexpired, `approver` has not approved it
        yet, and fewer than `approvals_required - 1` approvals are recorded. Appends an
        "approval_recorded" audit event in the same write. The caller has checked that
        `approver` may decide (and is not the requester).

        `dropping` (approver -> why): earlier approvals that no longer count (their approver
        has lost the right since), taken off `approvals` in the same write and named in its
        audit event (`rules.lapsed_in`); the counts above are of the approvals kept."""
        ...

    async def list_open(self, *, now: float) -> list[InviteRequest]:
        """Requests in OPEN_STATUSES, oldest first, including pending ones past expiry."""
        ...

    async def list_by_status(self, status: Status) -> list[InviteRequest]:
        """Oldest first."""
        ...

    async def recent_by_requester(self, requester: str, *, limit: int) -> list[InviteRequest]:
        """`requester`'s `limit` most recently filed requests, whatever their status, newest
        first (their App Home). Requests a backend has already deleted are not listed."""
        ...

    async def list_time_bound(self) -> list[InviteRequest]:
        """The approved time-bound invites whose end has not been claimed yet
        (`InviteRequest.access_running`), oldest first: what `/chime access` lists and the
        access sweep ends (bot/approvals/access.py). Bounded by the time-bound users there
        are, not by the store's history."""
        ...

    async def record(self, event: AuditEvent) -> None:
        """Append an audit event on its own (e.g. "refused"), after every event of its request
        already written."""
        ...

    async def audit_trail(self, request_id: str) -> list[AuditEvent]:
        """The request's events in the order they took effect: the order of the writes that
        made them, whatever clock stamped their `at` (bot/store/trail.py)."""
        ...

    async def audit_events(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[AuditEvent]:
        """Every audit event with since <= at < until (either bound optional), of every
        request, by time, with each request's own events in their trail's order; events at the
        same instant in the order they were written (bot/store/trail.py). For `chime-bot
        audit`: it reads the whole trail, so it is not for the request path."""
        ...

    async def claim_reminder(
        self, request: InviteRequest, *, now: float, lease: float
    ) -> str | None:
        """Take the right to send `request`'s one reminder, as decisions are claimed: one
        conditional write that succeeds only while the request is pending and unexpired, no
        reminder was recorded as sent, and no other claim is younger than `lease` seconds (or a
        failed attempt's retry time has come). Returns a token naming this claim, or None."""
        ...

    async def reminder_sent(self, request_id: str, event: AuditEvent) -> bool:
        """Record the reminder as sent, for good, with its audit `event`, in one write; False
        if one was already recorded (a claim that outlived its lease was taken over)."""
        ...

    async def release_reminder(
        self, request_id: str, token: str, *, retry_at: float, event: AuditEvent
    ) -> bool:
        """Give up claim `token` after a failed post, so a sweep at or after `retry_at` may
        claim it again; appends the failure's audit `event` in the same write. False if the
        claim was no longer held (taken over, or the reminder already recorded)."""
        ...

    async def claim_message(self, request_id: str, message: str, *, now: float) -> bool:
        """Take the right to send the one message named `message` about the request (a bulk
        invite's note on its outcome, say): True for exactly one caller ever, across store
        objects and processes, as a decision is claimed. The winner's claim is kept in the
        request's trail as a "told" audit event (`rules.told_event`), in the same write. The
        claim comes before the message: a sender that stops in between sends nothing."""
        ...

    async def check_writable(self) -> None:
        """Raise StoreNotWritable, with a message for the operator, if a write would fail."""
        ...

    async def close(self) -> None: ...
