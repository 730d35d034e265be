"""What the store keeps: invite requests and the audit events about them.

Plain frozen dataclasses, free of SQL, JSON and boto3, so handlers and cards can use them without
knowing which backend is configured.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from bot.models import Account

# RFC 4648 base32: upper case letters and digits 2-7 only, so ids are safe in URLs, Slack
# action values and block ids, and are not mangled by case-folding clients.
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_LENGTH = 10  # 50 random bits: collisions are negligible at chat-ops volumes
_ID_SET = frozenset(_ID_ALPHABET)

# The actor of every change the bot makes on its own (expiry, settling after a crash, a bulk
# invite's addresses following their lead), in the audit trail and in `decided_by`.
SYSTEM = "system"


class Status(StrEnum):
    PENDING = "pending"
    APPROVING = "approving"
    APPROVED = "approved"
    DENIED = "denied"
    FAILED = "failed"
    EXPIRED = "expired"


class Change(StrEnum):
    """What an approved request does in Chime (issue 21): the one call it stands for.

    INVITE is CreateUser (Enterprise) or InviteUsers (Team); the others are the user lifecycle's
    calls (bot/chime/lifecycle_calls.py): BatchSuspendUser, BatchUnsuspendUser, LogoutUser,
    ResetPersonalPIN and UpdateUser with LicenseType.
    """

    INVITE = "invite"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    LOGOUT = "logout"
    RESET_PIN = "reset_pin"
    LICENSE = "license"
    # Moves a time-bound invite's end (params: access_of, from_until, until): no Chime call,
    # its approval is one conditional write on the invite (bot/approvals/access.py).
    EXTEND = "extend"


# FAILED stays open: an approver may retry it, and it should still block a duplicate request.
OPEN_STATUSES = frozenset({Status.PENDING, Status.APPROVING, Status.FAILED})


@dataclass(frozen=True, slots=True)
class InviteRequest:
    id: str
    email: str
    user_type: str  # "PrivateUser" | "SharedDevice"
    reason: str
    account_id: str
    account_name: str
    account_type: str  # "Team" | "EnterpriseLWA" | ...
    requester: str  # Slack user ID
    origin_channel: str  # Slack channel ID
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    status: Status = Status.PENDING
    card_channel: str | None = None
    card_ts: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    # e.g. {"user_id": ...}, {"invite_status": "Pending", "invite_id": ...} or
    # {"outcome": "already_exists"}
    result: dict[str, str] | None = None
    error: str | None = None
    attempts: int = 0  # how many times execution was claimed (pending/failed -> approving)
    updated_at: float = 0.0
    # The two-person rule (issue 13): how many different approvers must approve, fixed when the
    # request is filed, and who has approved so far (the final approval claims execution).
    approvals_required: int = 1
    approvals: tuple[str, ...] = ()
    # A bulk invite (issue 13): one request per email, all sharing one card and decided
    # together; `batch_id` is the id of the batch's first request (its lead), None for a single.
    batch_id: str | None = None
    # When the execution claimed last may be taken for stranded, by the clock and the
    # CHIME_EXECUTION_LEASE of the replica that claimed it (issue 24); None on a request never
    # claimed, or claimed by a build before this field.
    lease_until: float | None = None
    # What the request does (issue 21), and what that call needs beyond the address, as short
    # strings: {"user_id": "..."} for a change to an existing user, {"license": "Pro"} for
    # UpdateUser. Never a secret: a reset PIN goes to its owner's DM only, never the store.
    change: Change = Change.INVITE
    params: dict[str, str] = field(default_factory=dict)
    # Time-bound access (issue 21): an approved invite filed with params["access_for"] (seconds)
    # ends at `access_until`, set when it is approved (the period starts then) and moved by an
    # approved extension; `access_ended_at` is when the sweep claimed its end (once, across
    # replicas: bot/approvals/access.py). Both None on every other request.
    access_until: float | None = None
    access_ended_at: float | None = None

    @property
    def access_for(self) -> int | None:
        """How long the access this invite grants lasts, in seconds; None: until removed."""
        value = self.params.get("access_for") if self.change == Change.INVITE else None
        return int(value) if value else None

    @property
    def access_running(self) -> bool:
        """Whether this is an approved time-bound invite whose end has not been claimed yet."""
        return (
            self.status == Status.APPROVED
            and self.access_until is not None
            and self.access_ended_at is None
        )

    @property
    def account(self) -> Account:
        return Account(self.account_id, self.account_name, self.account_type)

    def is_expired(self, now: float, *, margin: float = 0.0) -> bool:
        """Whether it is past its deadline by this clock, allowing `margin` for clocks of
        replicas elsewhere (bot/aws_clock.py): erring towards waiting, a clock up to `margin`
        ahead never expires a request before its deadline (moves.Move's decisions err the
        other way)."""
        # Only an undecided request can lapse; one being executed or already failed is past the
        # point where the deadline matters.
        return self.status == Status.PENDING and self.expires_at <= now - margin

    def in_time(self, at: float, *, margin: float = 0.0) -> bool:
        """Whether a decision judged at `at` comes before the deadline by more than `margin`
        (the allowance a decision's Move re-states in the store: moves.Move._decision)."""
        return self.expires_at > at + margin

    def lease_over(self, now: float, lease: float) -> bool:
        """Whether the claim on this `approving` request may be taken for stranded at `now`: by
        the end its claimer recorded, or, for a claim written before `lease_until` existed,
        `lease` after the claim (its last change)."""
        ends = self.lease_until if self.lease_until is not None else self.updated_at + lease
        return now >= ends

    @property
    def decided_in_time(self) -> bool:
        """Whether an approver decided it (approved in any form, or denied) before its
        deadline: a bulk invite's other requests then take that decision however late they are
        moved (bot/store/moves.py, Move.follow)."""
        return (
            self.status not in (Status.PENDING, Status.EXPIRED)
            and self.decided_at is not None
            and self.decided_at < self.expires_at
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def counts_as(self) -> str:
        """What fair use counts: a request on its own, or its whole batch as one filing."""
        return self.batch_id or self.id


@dataclass(frozen=True, slots=True)
class AuditEvent:
    request_id: str
    at: float
    actor: str  # Slack user ID or "system"
    # "filed" | "approve_claimed" | "denied" | "approved" | "failed" | "expired" |
    # "retry_claimed" | "reconciled" | "refused" ...
    action: str
    detail: dict[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    return "REQ-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def is_request_id(text: str) -> bool:
    """Whether `text` has the shape `new_request_id` gives (a button value may be forged)."""
    body = text.removeprefix("REQ-")
    return len(text) == len(body) + 4 and len(body) == _ID_LENGTH and set(body) <= _ID_SET
