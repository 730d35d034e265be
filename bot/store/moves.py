"""Every change of a request's status the workflow makes, as a value: `store.transition(id, move)`.

A `Move` names one rule of the workflow once: which statuses it starts from, the status it
leads to, whether the deadline must not have passed, which fields it records, who makes it and
the audit action it is written as. The named constructors are the only moves the bot makes:

    claim_approval   pending -> approving   the final approval, which claims execution
    run_unapproved   pending -> approving   a change its policy runs without approval
    deny             pending -> denied      an approver's "no"
    follow           pending -> approving | denied   a bulk invite's request taking its lead's
                                             decision
    withdraw         pending -> denied      filing did not complete (no card, no batch)
    expire           pending -> expired     past its deadline, undecided
    retry            failed -> approving    an approver runs a failed request again
    resume           approving -> approving  the sweep runs a bulk invite's request whose
                                             claimer's lease is over (and Chime has no user)
    finish           approving -> approved | failed   what the Chime call (or a lookup) found
    end_access       approved -> approved   claim a time-bound invite's end once it is due
    extend_access    approved -> approved   move a time-bound invite's end (an approved Extend)

Every move to `approving` claims the execution, and given the claimer's CHIME_EXECUTION_LEASE it
records when that claim ends by the claimer's own clock (`lease_until`): no one else settles the
request before then (bot/approvals/engine.py, `reconcile`).

What a move writes, given the request as it is, is planned in bot/store/rules.py, the same for
every backend. An approval that is not the last is no move: `RequestStore.record_approval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.store.codec import CHANGEABLE_FIELDS, Record, Scalar, encode_changes
from bot.store.model import SYSTEM, InviteRequest, Status

_PENDING = frozenset({Status.PENDING})
_FINISHED = frozenset({Status.APPROVED, Status.FAILED})


@dataclass(frozen=True, slots=True)
class Move:
    """One conditional change of status. Build it with a named constructor; the fields are
    public so a test can state a move the workflow never makes."""

    expect: frozenset[Status]  # the statuses it may start from
    to: Status
    actor: str  # a Slack user ID or "system"
    now: float
    action: str  # the audit event's action
    # Refused once the request's deadline has passed (expires_at <= judged_at).
    require_unexpired: bool = False
    # The other fields it records, encoded as the codec stores them (a subset of
    # codec.CHANGEABLE_FIELDS; None clears one).
    changes: tuple[tuple[str, Scalar], ...] = ()
    # The instant the deadline is judged at, if not `now`: a follower is judged when its lead
    # was decided, because the approver's click covered the whole batch at that moment. A
    # decision adds the clock-skew margin to it (`_decision`).
    deadline_at: float | None = None
    # Set: refused unless the request's current claim has run out at `now` (its lease_until,
    # or this many seconds after its last change for a claim that recorded none). So of
    # replicas taking over one stranded claim, the first one's write renews it and the others'
    # are refused, re-judged on the request as it then is.
    lease_over: float | None = None
    # Set: a time-bound invite's move, refused unless its end is still unclaimed and is the
    # `until` given (its value as read when the move was decided) and, with `due`, unless
    # that end has come by `judged_at` (`now` less the clock margin). So the sweep ending the
    # access and an approved extension moving it are ordered by the store: one of them wins.
    access_until: float | None = None
    access_due: bool = False
    # More detail for the move's audit event (why, on whose behalf), beside the fields.
    detail: tuple[tuple[str, str], ...] = ()

    @property
    def judged_at(self) -> float:
        return self.now if self.deadline_at is None else self.deadline_at

    def __post_init__(self) -> None:
        if not self.expect:
            raise ValueError("a move needs at least one status to start from")
        unknown = {name for name, _ in self.changes} - CHANGEABLE_FIELDS
        if unknown:
            raise TypeError(f"a move cannot change {', '.join(sorted(unknown))}")

    @property
    def fields(self) -> Record:
        return dict(self.changes)

    # ---- deciding --------------------------------------------------------------------------

    # `margin` in a decision: how far this replica's clock may be from the others'
    # (bot/aws_clock.py). A decision needs the deadline more than `margin` after the instant it
    # is judged at, so a clock up to `margin` behind never decides after the deadline. It errs
    # towards refusing: within `margin` of the deadline, no one decides and the sweep expires
    # the request (model.InviteRequest.is_expired, which errs the other way).

    @classmethod
    def claim_approval(
        cls, user: str, now: float, *, lease: float | None = None, margin: float = 0.0
    ) -> Move:
        """`user`'s approval that completes the request's approvals, claiming its execution
        for `lease` seconds. The store grants it only if the other approvals are recorded,
        none of them by `user` (rules.completes_approvals), and adds `user` to them."""
        decided = (user, now)
        move = cls._decision(Status.APPROVING, "approve_claimed", user, now, decided, margin)
        return _leased(move, lease)

    @classmethod
    def run_unapproved(cls, user: str, now: float, *, lease: float | None = None) -> Move:
        """Claim the execution of a request its account's policy lets run without approval
        (by default only resetting your own PIN), for its requester: pending -> approving,
        audited as such, so the store's one-claim rule and the trail are the same as for an
        approved change."""
        move = cls._decision(Status.APPROVING, "ran_without_approval", user, now, (user, now), 0.0)
        return _leased(move, lease)

    @classmethod
    def deny(cls, user: str, now: float, *, margin: float = 0.0) -> Move:
        return cls._decision(Status.DENIED, "denied", user, now, (user, now), margin)

    @classmethod
    def follow(
        cls,
        lead: InviteRequest,
        actor: str,
        now: float,
        *,
        lease: float | None = None,
        margin: float = 0.0,
    ) -> Move:
        """A bulk invite's pending request taking the decision its lead has (approved in any
        form but denied), recorded as the lead's decider made it; `actor` is who carries it
        over (the decider, or the sweep), claiming an approved one's execution for `lease`."""
        to = Status.DENIED if lead.status == Status.DENIED else Status.APPROVING
        action = "denied" if to == Status.DENIED else "approve_claimed"
        decided = (lead.decided_by, lead.decided_at)
        # Judged when the lead was decided, not now: a click given in time counts for every
        # address it covers, however long the follow-up takes (a slow replica, or the sweep
        # after the decider died). Its lead's own claim was judged against the same deadline,
        # with the same margin.
        move = cls._decision(to, action, actor, now, decided, margin, judged_at=lead.decided_at)
        return _leased(move, lease) if to == Status.APPROVING else move

    @classmethod
    def _decision(
        cls,
        to: Status,
        action: str,
        actor: str,
        now: float,
        decided: tuple[str | None, float | None],
        margin: float,
        *,
        judged_at: float | None = None,
    ) -> Move:
        by, at = decided
        changes = _encoded(decided_by=by, decided_at=at)
        at_judged = now if judged_at is None else judged_at
        # Decisions check the deadline: a pending request past it only ever expires, which
        # is also what keeps DynamoDB's dedupe lock sound (bot/store/dynamodb.py).
        return cls(_PENDING, to, actor, now, action, True, changes, at_judged + margin)

    # ---- housekeeping ----------------------------------------------------------------------

    @classmethod
    def withdraw(cls, actor: str, now: float, error: str) -> Move:
        """Take back a pending request whose filing did not complete, saying why."""
        changes = _encoded(decided_by=actor, decided_at=now, error=error)
        return cls(_PENDING, Status.DENIED, actor, now, "withdrawn", changes=changes)

    @classmethod
    def expire(cls, actor: str, now: float) -> Move:
        return cls(_PENDING, Status.EXPIRED, actor, now, "expired")

    # ---- executing -------------------------------------------------------------------------

    @classmethod
    def retry(cls, user: str, now: float, *, lease: float | None = None) -> Move:
        """Claim a failed request's execution again for `lease` seconds (attempts goes up; no
        new approval)."""
        changes = _encoded(decided_by=user, decided_at=now, error=None)
        failed = frozenset({Status.FAILED})
        move = cls(failed, Status.APPROVING, user, now, "retry_claimed", changes=changes)
        return _leased(move, lease)

    @classmethod
    def resume(cls, actor: str, now: float, *, lease: float) -> Move:
        """Claim again the execution of an `approving` request whose claim has run out, for
        `lease` seconds by this clock (attempts goes up: the first claimer may have called
        Chime)."""
        approving = frozenset({Status.APPROVING})
        move = cls(approving, Status.APPROVING, actor, now, "resumed", lease_over=lease)
        return _leased(move, lease)

    @classmethod
    def finish(
        cls,
        to: Status,
        actor: str,
        now: float,
        *,
        action: str | None = None,
        result: Mapping[str, str] | None = None,
        error: str | None = None,
        access_until: float | None = None,
    ) -> Move:
        """End a claimed execution as `to` (approved or failed) with what Chime answered;
        the audit action is the status unless it says how (e.g. "reconciled"). A time-bound
        invite approved now gets its end, `access_until`, in the same write."""
        if to not in _FINISHED:
            raise ValueError(f"an execution finishes approved or failed, not {to}")
        given = {"result": result, "error": error, "access_until": access_until}
        changes = _encoded(**{name: value for name, value in given.items() if value is not None})
        approving = frozenset({Status.APPROVING})
        return cls(approving, to, actor, now, action or to.value, changes=changes)

    # ---- time-bound access -----------------------------------------------------------------

    @classmethod
    def end_access(cls, until: float, now: float, *, margin: float = 0.0) -> Move:
        """The sweep's claim that a time-bound invite's access (ending at `until`) is over: one
        caller ever wins it, and only once `until` <= now - margin (never before the end by
        any replica's clock)."""
        approved = frozenset({Status.APPROVED})
        changes = _encoded(access_ended_at=now)
        return cls(
            approved,
            Status.APPROVED,
            SYSTEM,
            now,
            "access_ended",
            changes=changes,
            deadline_at=now - margin,
            access_until=until,
            access_due=True,
            detail=(("why", "access ended"),),
        )

    @classmethod
    def extend_access(
        cls, user: str, now: float, *, until: float, to: float, extension: str
    ) -> Move:
        """Move a running access's end from `until` to `to`, for the approved extension
        `extension` (a request id)."""
        approved = frozenset({Status.APPROVED})
        return cls(
            approved,
            Status.APPROVED,
            user,
            now,
            "access_extended",
            changes=_encoded(access_until=to),
            access_until=until,
            detail=(("extension", extension),),
        )


def _leased(move: Move, lease: float | None) -> Move:
    """`move`, a claim, recording when its lease ends by the claimer's clock (`now`); None
    records nothing, and the lease is then judged from the claim's `updated_at`."""
    if lease is None:
        return move
    return replace(move, changes=(*move.changes, *_encoded(lease_until=move.now + lease)))


def _encoded(**changes: object) -> tuple[tuple[str, Scalar], ...]:
    return tuple(encode_changes(changes).items())
