"""The invite workflow: file a request, decide on it, run the Chime call exactly once, and keep
every card and requester up to date.

Exactly-once rests on the store: a decision is one conditional state change (`pending` ->
`approving` or `denied`), and only the caller whose change succeeded runs the Chime call. Double
clicks, Slack retries and rival approvers all lose that race and are told who decided.

A crash between the claim and the Chime answer leaves a request in `approving`. `reconcile`
finds such requests once their execution lease has passed (at start-up and on every sweep) and
settles them by looking the email up in Chime; Retry does the same check before calling again.

One module because each step (file, claim, execute, finish, reconcile, expire) is a transition
of the same request under the same claim rules; the Chime call itself is in
bot/approvals/execution.py, the two-person rule's choice of write in bot/approvals/two_person.py, a
bulk invite's follow-the-lead steps in bot/approvals/batches.py, and the account's policy in
bot/policy/effective.py. What splits next: the two-person and batch branches of `decide` into a
decision module of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.approvals import batches
from bot.approvals.execution import run_chime_call
from bot.approvals.fair_use import FairUse
from bot.approvals.two_person import record_or_claim
from bot.cards.approval import (
    ActionId,
    already_approved_note,
    approval_card,
    decided_already_note,
    duplicate_note,
    exists_note,
    filed_note,
    outcome_note,
    progress_note,
)
from bot.cards.base import Reply, error_card
from bot.chime.accounts import choose_account
from bot.chime.directory import Directory
from bot.clock import Clock
from bot.errors import ChimeError
from bot.metrics import Metrics
from bot.models import Account
from bot.policy.approvers import Approvers
from bot.policy.authz import Decision, Policy
from bot.policy.deciders import Deciders
from bot.policy.effective import AccountPolicy, Policies, draft
from bot.slack.commands import Invite
from bot.slack.notify import CardNotPosted, Notifier
from bot.store import (
    AuditEvent,
    DuplicateRequest,
    InviteRequest,
    Move,
    RequestStore,
    Status,
)
from bot.store.model import SYSTEM, is_request_id

log = logging.getLogger("chime_bot.approvals")


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

    @property
    def book(self) -> Policies:
        return self.policies or Policies(self.policy, int(self.ttl))

    @property
    def deciders(self) -> Deciders:
        """Who may decide, as every surface asks it (bot/policy/deciders.py)."""
        return Deciders(self.book, self.approvers)

    # Told of every request filed or changed (App Home refreshes, bot/approvals/home.py); must not
    # block.
    on_change: Callable[[InviteRequest], None] | None = None

    # ---- filing ----------------------------------------------------------------------------

    async def file(self, cmd: Invite, requester: str, origin_channel: str) -> tuple[Reply, str]:
        """File a request and post its approval card; returns the requester's note and outcome."""
        if len(cmd.all_emails) > 1:
            return await batches.file_batch(self, cmd, requester, origin_channel)
        async with self.fair_use.turn(requester):
            filed = await self._register(cmd, requester, origin_channel)
        if not isinstance(filed, InviteRequest):
            return filed
        return await self._post(filed, origin_channel)

    async def _register(
        self, cmd: Invite, requester: str, origin_channel: str
    ) -> InviteRequest | tuple[Reply, str]:
        """Check and store a new request: the stored request, or the reply refusing it."""
        refusal = await self.fair_use.refusal(requester, now=self.clock.now())
        if refusal is not None:
            return refusal, "too_many_open"
        with self.directory.one_budget():  # the requester waits for all of it
            account = await choose_account(self.directory, cmd.account, self.default_account)
            rules = await self.rules_for_filing(account, cmd, requester, origin_channel)
            if not isinstance(rules, AccountPolicy):
                return rules
            holders = await self.directory.list_accounts(user_email=cmd.email)
        if holders:
            return exists_note(cmd.email, [a.name for a in holders]), "exists"
        now = self.clock.now()
        existing = await self.store.find_open(cmd.email, account.account_id, now=now)
        if existing is not None:
            return duplicate_note(existing), "duplicate"
        request = draft(cmd, account, rules, requester, origin_channel, now)
        try:
            return await self.store.file(request, now=now)
        except DuplicateRequest as dup:
            return duplicate_note(dup.existing), "duplicate"

    async def rules_for_filing(
        self, account: Account, cmd: Invite, requester: str, origin_channel: str
    ) -> AccountPolicy | tuple[Reply, str]:
        """The account's policy if it lets `requester` file `cmd` from `origin_channel`, else
        the refusal: the same check for a single request and a bulk invite."""
        # Cached by choose_account's own read: the file's entries are matched against it.
        known = await self.directory.all_accounts() if self.book.from_file else None
        rules = self.book.for_account(account.account_id, account.name, known)
        verdict = await self.may_file(rules, cmd, requester, origin_channel, account.name)
        if not verdict.allowed:
            return error_card("Request not filed", verdict.reason), "refused"
        return rules

    async def may_file(
        self, rules: AccountPolicy, cmd: Invite, requester: str, channel: str, account_name: str
    ) -> Decision:
        """The account's policy on filing: from this channel, this user type, and enough
        approvers other than the requester (group members read from Slack if needed)."""
        for verdict in (
            rules.may_request_from(channel, account_name),
            rules.may_have(cmd.user_type.value, account_name),
        ):
            if not verdict.allowed:
                return verdict
        required = rules.approvals_required
        return await self.approvers.check(lambda p: p.may_file(requester, required), rules.rules)

    async def _post(self, request: InviteRequest, origin_channel: str) -> tuple[Reply, str]:
        """Post the approval card of a stored request, or withdraw the request if Slack won't."""
        channel = self.approval_channel or origin_channel
        try:
            ts = await self.notifier.post_card(channel, approval_card(request))
        except CardNotPosted as exc:
            return await self._not_posted([request], channel, exc)
        request = await self.store.set_card(request.id, channel, ts) or request
        self._changed(request)
        return filed_note(request, channel), "filed"

    async def _not_posted(
        self, requests: list[InviteRequest], channel: str, exc: CardNotPosted
    ) -> tuple[Reply, str]:
        """Withdraw requests whose card Slack refused: nothing half-done, since without a
        card no one can approve them."""
        await self._withdraw(requests, f"approval card not posted: {exc}")
        return error_card(
            "Request not filed",
            f"The approval card could not be posted in channel {channel} (Slack said "
            f"{exc}), so nothing was filed.",
            hint="Ask an admin to add the bot to that channel or fix CHIME_APPROVAL_CHANNEL.",
        ), "card_failed"

    async def _withdraw(self, requests: list[InviteRequest], error: str) -> None:
        now = self.clock.now()
        for request in requests:
            await self.store.transition(request.id, Move.withdraw(SYSTEM, now, error))

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
        if request.batch_id is not None:
            if action == ActionId.RETRY:
                return await batches.retry(self, request, user)
            # A bulk invite is decided by its first request's claim; the others follow it.
            request = await self.store.get(request.batch_id) or request
        if action == ActionId.RETRY:
            return await self._retry(request, user)
        now = self.clock.now()
        if request.is_expired(now):
            return await self._expire(request, user)
        approve = action == ActionId.APPROVE
        if approve:
            claimed = await record_or_claim(self.store, request, user, now=now)
        else:
            claimed = await self.store.transition(request.id, Move.deny(user, now))
        current = claimed.request
        if current is None:
            return error_card("Request not found", f"There is no request {request_id}.")
        if not claimed.ok:
            if current.is_expired(now):
                return await self._expire(current, user)
            if approve and current.status == Status.PENDING and user in current.approvals:
                return already_approved_note(current)
            return decided_already_note(current)
        if current.batch_id is not None:
            if current.status == Status.PENDING:  # an approval recorded, not the last
                await batches.show(self, current.batch_id)
                return None
            await batches.follow(self, current, user, lead_claimed=True)
            return None
        await self._show(current)
        if current.status == Status.APPROVING:
            await self._execute(current, user)
        elif current.status == Status.PENDING:
            # An approval that is not the last: the requester hears that it is under way.
            await self.notifier.tell_user(
                current.requester, current.origin_channel, progress_note(current)
            )
        else:
            self.metrics.approval(Status.DENIED.value)
            await self._tell_requester(current)
        return None

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

    async def _retry(self, request: InviteRequest, user: str) -> Reply | None:
        now = self.clock.now()
        claimed = await self.store.transition(request.id, Move.retry(user, now))
        if claimed.request is None:
            return error_card("Request not found", f"There is no request {request.id}.")
        if not claimed.ok:
            return decided_already_note(claimed.request)
        await self._show(claimed.request)
        # The failed attempt may have reached Chime after all: look before calling again.
        if not await self._settle_from_chime(claimed.request, user, if_missing=None, retrying=True):
            await self._execute(claimed.request, user)
        return None

    async def _expire(self, request: InviteRequest, actor: str) -> Reply:
        if request.batch_id is not None:  # a bulk invite's requests expire together
            moved = await batches.expire(self, request.batch_id, actor)
        else:
            expired = await self.store.transition(request.id, Move.expire(actor, self.clock.now()))
            moved = [expired.request] if expired.ok and expired.request is not None else []
        for _ in moved:
            self.metrics.approval(Status.EXPIRED.value)
        if moved:
            await self._show(moved[0])
            await self._tell_requester(moved[0])
        return error_card(
            "This request has expired",
            f"Request {request.id} passed its deadline without a decision, so it "
            "can no longer be approved or denied. Nothing was created.",
        )

    # ---- executing -------------------------------------------------------------------------

    async def _execute(self, request: InviteRequest, actor: str) -> None:
        """Run the one Chime call for a request this caller has claimed (`approving`)."""
        try:
            to, changes = await run_chime_call(self.directory, request)
        except asyncio.CancelledError:
            # Shutdown cut the wait short. Chime may still act on the call in flight, so the
            # request becomes retryable, and Retry looks the user up before calling again.
            await asyncio.shield(
                self._finish(
                    request,
                    Status.FAILED,
                    actor,
                    "interrupted",
                    error="the bot shut down before Chime answered; Retry checks Chime first",
                )
            )
            raise
        await self._finish(request, to, actor, to.value, **changes)

    async def _finish(
        self,
        request: InviteRequest,
        to: Status,
        actor: str,
        action: str,
        quiet: bool = False,  # a batch shows its card and tells its requester once, itself
        **changes: Any,
    ) -> None:
        move = Move.finish(to, actor, self.clock.now(), action=action, **changes)
        done = await self.store.transition(request.id, move)
        if done.ok and done.request is not None:
            self.metrics.approval(to.value)
            log.info(
                "request %s %s",
                request.id,
                to.value,
                extra={"request_id": request.id, "outcome": to.value, "user": actor},
            )
            if not quiet:
                await self._show(done.request)
                await self._tell_requester(done.request)

    async def _settle_from_chime(
        self,
        request: InviteRequest,
        actor: str,
        if_missing: str | None,
        retrying: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Finish an `approving` request from what Chime says now. True if it was settled:
        the user exists (approved), the lookup failed (failed), or `if_missing` says to fail it."""
        account = request.account
        try:
            record = await self.directory.user_in(account, request.email, patient=True)
        except ChimeError as exc:
            await self._finish(
                request,
                Status.FAILED,
                actor,
                "reconciled",
                error=f"could not confirm with Chime: {exc.message}",
                quiet=quiet,
            )
            return True
        if record is not None and account.is_team and record.user.invitation_status == "Failed":
            record = None  # a failed invitation is no invitation: it may be sent again
        if (
            record is not None
            and retrying
            and account.is_team
            and record.user.invitation_status != "Accepted"
        ):
            # Inviting again is safe (no second user) and is the only way to learn whether
            # the invitation and its email went out this time.
            record = None
        if record is not None:
            result = {"user_id": record.user.user_id, "reconciled": "true"}
            if account.is_team:
                result["invite_status"] = record.user.invitation_status or "Pending"
            await self._finish(
                request, Status.APPROVED, actor, "reconciled", quiet=quiet, result=result
            )
            return True
        if if_missing is not None:
            await self._finish(
                request, Status.FAILED, actor, "reconciled", quiet=quiet, error=if_missing
            )
            return True
        return False

    # ---- housekeeping ----------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Settle requests stranded in `approving` past their lease; returns how many."""
        settled = 0
        cutoff = self.clock.now() - self.lease
        for request in await self.store.list_by_status(Status.APPROVING):
            if request.updated_at > cutoff:
                continue  # may still be running, here or on another replica
            log.warning(
                "reconciling %s, stranded in approving",
                request.id,
                extra={"request_id": request.id},
            )
            await self._settle_from_chime(
                request,
                SYSTEM,
                if_missing="the bot stopped before Chime confirmed; the user was not created. "
                "Retry to run it again.",
            )
            settled += 1
        return settled + await batches.follow_leads(self)

    async def expire_overdue(self) -> int:
        now = self.clock.now()
        count = 0
        done: set[str] = set()  # a bulk invite's requests expire together
        for request in await self.store.list_by_status(Status.PENDING):
            if request.is_expired(now) and request.batch_id not in done:
                await self._expire(request, SYSTEM)
                done.add(request.batch_id or request.id)
                count += 1
        return count

    async def open_requests(self) -> list[InviteRequest]:
        now = self.clock.now()
        return [r for r in await self.store.list_open(now=now) if not r.is_expired(now)]

    # ---- telling people --------------------------------------------------------------------

    async def _show(self, request: InviteRequest) -> None:
        if request.batch_id is not None:
            await batches.show(self, request.batch_id)
            return
        if request.card_channel and request.card_ts:
            await self.notifier.update_card(
                request.card_channel, request.card_ts, approval_card(request)
            )
        self._changed(request)

    def _changed(self, request: InviteRequest) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(request)
        except Exception:  # a refresh is a courtesy: it never breaks the flow
            log.warning("could not schedule a refresh for %s", request.id, exc_info=True)

    async def _tell_requester(self, request: InviteRequest) -> None:
        if request.batch_id is not None:
            await batches.tell_requester(self, request.batch_id)
            return
        await self.notifier.tell_user(
            request.requester, request.origin_channel, outcome_note(request)
        )
