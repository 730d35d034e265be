"""The invite workflow's entry point, `Approvals`: file a request, decide on it, and keep the
workflow's books (reconcile what a crash left, expire what passed its deadline, list what is
open). It holds the workflow's parts and the account policy, and owns the one check every
click passes: a button counts only on its own card, and only for who may decide.

A crash between the claim and the Chime answer leaves a request in `approving`. `reconcile`
finds such requests once their execution lease has passed, by the measure of the replica that
claimed them (at start-up and on every sweep), and settles them by looking the email up in
Chime: "not created" only when Chime says so, and nothing at all while Chime cannot be asked.
Retry does the same check before calling again.

The steps themselves are in modules of their own: filing in bot/approvals/filing.py, what a
click does (claims, the two-person rule, Retry, the Chime call) in bot/approvals/decision.py, a
bulk invite's follow-the-lead steps in bot/approvals/batches.py, and the steps both share
(finish, settle from Chime, withdraw, expire, show, tell) in bot/approvals/steps.py; the
account's policy is bot/policy/effective.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.approvals.access import file_extension, sweep_access
from bot.approvals.batches import file_batch, follow_leads, resume_stranded
from bot.approvals.change_calls import PinCourier
from bot.approvals.change_filing import ChangeAsked, ChangeFiling, EmailOf
from bot.approvals.decision import carry_out
from bot.approvals.fair_use import FairUse
from bot.approvals.filing import Filing
from bot.approvals.offboarding import OFF, Departure, Offboarding
from bot.approvals.orphans import withdraw_unseen
from bot.approvals.steps import Steps
from bot.aws_clock import AwsClock
from bot.cards.approval import ActionId
from bot.cards.base import Reply, error_card
from bot.cards.notes import clock_off_note
from bot.chime.directory import Directory
from bot.clock import Clock
from bot.metrics import Metrics
from bot.policy.approvers import Approvers
from bot.policy.authz import Decision, Policy
from bot.policy.deciders import Deciders
from bot.policy.effective import Policies
from bot.slack.commands import Invite
from bot.slack.notify import Notifier
from bot.store import AuditEvent, InviteRequest, RequestStore, Status
from bot.store.model import SYSTEM, is_request_id

log = logging.getLogger("chime_bot.approvals")

# The log line's `outcome` when a replica's clock keeps it from judging deadlines: the alarm in
# deploy/chime-bot.yaml matches it.
CLOCK_SKEW = "clock_skew"


@dataclass(frozen=True, slots=True)
class Surface:
    """Where a button was pressed, as Slack's payload says: the message's channel and `ts`.

    A surface that is not a message (an App Home or modal `view`, say) has neither, so it can
    never match a stored card: a new surface must be added here on purpose, not by accident.
    """

    channel: str
    message_ts: str
    # Added on purpose: a click in this user's own App Home tab, as bot/approvals/home_surface.py
    # judged it; it counts like a click on the card, for that user only.
    home_of: str = ""

    def shows(self, request: InviteRequest) -> bool:
        return (
            bool(request.card_channel and request.card_ts)
            and self.channel == request.card_channel
            and self.message_ts == request.card_ts
        )


@dataclass
class Approvals:
    """The workflow, as the handlers and the sweep see it: `file`, `decide`, `may_decide`,
    `reconcile`, `withdraw_unseen`, `expire_overdue`, `open_requests`."""

    store: RequestStore
    directory: Directory
    notifier: Notifier
    policy: Policy
    clock: Clock
    ttl: float
    approval_channel: str | None
    default_account: str | None
    lease: float  # seconds after a claim before a silent `approving` request counts as stranded
    metrics: Metrics
    fair_use: FairUse
    approvers: Approvers  # who may decide now: the policy, its user groups expanded
    # Per-account policy (CHIME_POLICY_FILE, over the environment's CHIME_APPROVALS_REQUIRED
    # and the rest); None: `policy`, `ttl` and one approval for every account.
    policies: Policies | None = None
    # This replica's clock against AWS's (bot/aws_clock.py): deadlines are judged with its
    # margin, and nothing is decided while it is off by more than its bound. None: the clock
    # is trusted as it is (a lone bot).
    aws_clock: AwsClock | None = None
    # Who is who in Slack (bot/slack/people.py), for the lifecycle changes: where a reset PIN
    # goes (its owner's DM only), and whether a reset is the requester's own. None: no PIN is
    # sent anyone, and every reset is someone else's.
    pins: PinCourier | None = None
    email_of: EmailOf | None = None
    # CHIME_OFFBOARDING: what a Slack user's deactivation does to their Chime user
    # (bot/approvals/offboarding.py): off, request or suspend.
    offboarding: str = OFF

    @property
    def book(self) -> Policies:
        return self.policies or Policies(self.policy, int(self.ttl))

    @property
    def deciders(self) -> Deciders:
        """Who may decide, as every surface asks it (bot/policy/deciders.py)."""
        return Deciders(self.book, self.approvers)

    # Told of every request filed or changed (App Home refreshes, bot/approvals/home.py); must not
    # block. Set after construction (App Home needs the Approvals it is told by).
    on_change: Callable[[InviteRequest], None] | None = None

    @property
    def steps(self) -> Steps:
        """The steps, with the parts as they are now (`on_change` is set late)."""
        return Steps(
            store=self.store,
            directory=self.directory,
            notifier=self.notifier,
            clock=self.clock,
            metrics=self.metrics,
            lease=self.lease,
            on_change=self.on_change,
            margin=self.margin,
            pins=self.pins,
        )

    @property
    def margin(self) -> float:
        return self.aws_clock.margin if self.aws_clock is not None else 0.0

    def clock_refusal(self) -> str | None:
        """Why this replica must not judge deadlines now (claim, expire, reconcile); None
        when it may."""
        return self.aws_clock.refusal() if self.aws_clock is not None else None

    # ---- filing ----------------------------------------------------------------------------

    def _filing(self) -> Filing:
        return Filing(
            steps=self.steps,
            fair_use=self.fair_use,
            book=self.book,
            approvers=self.approvers,
            approval_channel=self.approval_channel,
            default_account=self.default_account,
        )

    async def file_change(
        self, asked: ChangeAsked, requester: str, origin_channel: str
    ) -> tuple[Reply, str]:
        """File a lifecycle change (suspend, unsuspend, sign out, PIN, license) for approval,
        or run it at once where its account's policy needs none; the requester's note."""
        changes = ChangeFiling(self._filing(), self.email_of)
        return await changes.file(asked, requester, origin_channel)

    async def offboard(self, gone: Departure) -> str:
        """A Slack user was deactivated: suspend their Chime user, asked for or at once, as
        CHIME_OFFBOARDING says; the outcome in a word."""
        offboarding = Offboarding(self._filing(), self.offboarding, self.approval_channel)
        return await offboarding.departed(gone)

    async def file(self, cmd: Invite, requester: str, origin_channel: str) -> tuple[Reply, str]:
        """File a request and post its approval card; returns the requester's note and outcome."""
        filing = self._filing()
        if len(cmd.all_emails) > 1:
            return await file_batch(filing, cmd, requester, origin_channel)
        return await filing.file(cmd, requester, origin_channel)

    # ---- deciding --------------------------------------------------------------------------

    async def decide(
        self, request_id: str, user: str, action: ActionId, surface: Surface
    ) -> Reply | None:
        """Handle one button press; returns a private note for the clicker, if there is one.

        The one place every click passes: a button counts only on the card stored for its
        request, so a click naming request B from any other message or channel changes nothing.
        """
        request = await self.store.get(request_id) if is_request_id(request_id) else None
        if request is None:
            return error_card("Request not found", f"There is no request {request_id[:40]}.")
        if not (surface.shows(request) or (surface.home_of and surface.home_of == user)):
            return await self._refuse(
                request,
                user,
                action,
                f"Buttons for request {request.id} count only on its own approval card "
                "(or in your own App Home tab), and this one is elsewhere. Nothing changed.",
                channel=surface.channel[:64],
                message_ts=surface.message_ts[:64],
            )
        verdict = await self.may_decide(user, request)
        if not verdict.allowed:
            return await self._refuse(request, user, action, verdict.reason)
        off = self.clock_refusal()
        if off is not None:
            # Every click decides against a deadline (Retry too: it claims the execution
            # again), so none is judged by a clock that may be off by more than the bound.
            log.warning(
                "%s on %s not carried out: %s",
                action.value,
                request.id,
                off,
                extra={"request_id": request.id, "user": user, "outcome": CLOCK_SKEW},
            )
            return clock_off_note(off)
        return await carry_out(self.steps, request, user, action, self.deciders.lapsed)

    async def may_decide(self, user: str, request: InviteRequest) -> Decision:
        """Whether `user` may decide on `request` now: the one question every surface asks.
        Answered by the approvers of the request's account (bot/policy/deciders.py), with no
        Chime call."""
        return await self.deciders.may_decide(user, request)

    async def _refuse(
        self, request: InviteRequest, user: str, action: ActionId, reason: str, **detail: str
    ) -> Reply:
        """Change nothing, say why privately, and keep the attempt in the audit trail."""
        await self.store.record(
            AuditEvent(
                request.id,
                self.clock.now(),
                user,
                "refused",
                {"action": action.value, "reason": reason, **detail},
            )
        )
        log.info(
            "refused %s on %s by %s",
            action.value,
            request.id,
            user,
            extra={"request_id": request.id, "user": user, "outcome": "refused"},
        )
        return error_card("You can't decide on this request", reason)

    # ---- housekeeping ----------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Settle requests stranded in `approving` past their lease; returns how many."""
        steps = self.steps
        settled = 0
        now = self.clock.now()
        batches: dict[str, list[InviteRequest]] = {}
        for request in await self.store.list_by_status(Status.APPROVING):
            if not request.lease_over(now, self.lease):
                # Its claimer's lease, by its own measure (its CHIME_EXECUTION_LEASE from its
                # clock at the claim), still holds: the call may be running, here or elsewhere.
                continue
            log.warning(
                "reconciling %s, stranded in approving",
                request.id,
                extra={"request_id": request.id},
            )
            if request.batch_id is not None:
                batches.setdefault(request.batch_id, []).append(request)
            else:
                settled += await steps.settle_stranded(request)
        for stranded in batches.values():
            # A bulk invite's addresses are run by the sweep, not failed (batches.py).
            settled += await resume_stranded(steps, stranded)
        return settled + await follow_leads(steps, self.lease)

    async def withdraw_unseen(self) -> int:
        """Withdraw pending requests whose approval card was never posted (a filing cut short)
        once past the grace (bot/approvals/orphans.py); returns how many filings."""
        return await withdraw_unseen(self.steps)

    async def expire_overdue(self) -> int:
        steps = self.steps
        now = self.clock.now()
        count = 0
        done: set[str] = set()  # a bulk invite's requests expire together
        for request in await self.store.list_by_status(Status.PENDING):
            if request.is_expired(now, margin=self.margin) and request.batch_id not in done:
                await steps.expire(request, SYSTEM)
                done.add(request.batch_id or request.id)
                count += 1
        return count

    async def sweep_access(self) -> int:
        """Offer due extensions and end time-bound accesses that are over
        (bot/approvals/access.py); returns how many ended."""
        return await sweep_access(
            self.steps, margin=self.margin, approval_channel=self.approval_channel
        )

    async def extend(self, invite_id: str, user: str) -> tuple[Reply, str]:
        """Extend, clicked by `user` on the offer about `invite_id`."""
        if not is_request_id(invite_id):
            return error_card(
                "Request not found", f"There is no request {invite_id[:40]}."
            ), "refused"
        return await file_extension(self._filing(), invite_id, user)

    async def access_ends(self, email: str, account_id: str) -> float | None:
        """When `email`'s time-bound access to the account ends; None if it is not time-bound."""
        for invite in await self.store.list_time_bound():
            if invite.account_id == account_id and invite.email.lower() == email.lower():
                return invite.access_until
        return None

    async def time_bound(self) -> list[InviteRequest]:
        """The time-bound users whose access has not ended (`/chime access`)."""
        return await self.store.list_time_bound()

    async def open_requests(self) -> list[InviteRequest]:
        now = self.clock.now()
        return [r for r in await self.store.list_open(now=now) if not r.is_expired(now)]
