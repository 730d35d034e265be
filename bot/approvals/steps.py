"""The steps a single request and a bulk invite share: each state change that ends or undoes a
request (withdraw, finish, settle from what Chime says, expire), and telling people about it
(the card, the requester's note, the App Home refresh).

Both paths use them alike: the single-request path in bot/approvals/decision.py and
bot/approvals/filing.py, the bulk path in bot/approvals/batches.py, housekeeping in
bot/approvals/engine.py. Each state change is one conditional write in the store (a `Move`), so
only the caller whose write succeeds counts it, shows it and tells the requester.

A request of a bulk invite (`batch_id`) is shown and reported as its batch: one card rendered
from all its requests, and one note once none of them is pending or working. Several callers,
on several replicas, may each move some of a batch's requests, and each may then find the batch
settled; the final card and the note come from the one that claims that outcome in the store
(`RequestStore.claim_message`, `report_batch`). A single request's card and note come from the
caller whose one transition succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.approvals.change_calls import UNOBSERVABLE, PinCourier, change_done, user_id_of
from bot.cards.approval import approval_card
from bot.cards.base import Reply, error_card
from bot.cards.batch import batch_card, batch_outcome_note, lead_of
from bot.cards.notes import decided_already_note, expired_note, outcome_note
from bot.chime.directory import Directory
from bot.clock import Clock
from bot.errors import ChimeError
from bot.metrics import Metrics
from bot.slack.notify import CardNotPosted, Notifier
from bot.store import Change, InviteRequest, Move, RequestStore, Status
from bot.store.model import SYSTEM
from bot.store.rules import lapsed_in

log = logging.getLogger("chime_bot.approvals")

SKIPPED = "skipped"  # a bulk invite lead's audit event naming each skipped address and why
INTERRUPTED = "the bot shut down before Chime answered; Retry checks Chime first"
_UNSETTLED = frozenset({Status.PENDING, Status.APPROVING})


def log_unknown(request: InviteRequest, exc: ChimeError) -> None:
    log.warning(
        "could not ask Chime about %s (%s); left approving for the next sweep",
        request.id,
        exc.code or type(exc).__name__,
        extra={"request_id": request.id},
    )


def not_in_chime(request: InviteRequest) -> str:
    """Why a stranded request failed, said only once Chime was asked and has no such user (or,
    for a lifecycle change, does not show it made)."""
    if request.change != Change.INVITE:
        if request.change in UNOBSERVABLE:
            return (
                "the bot stopped before Chime confirmed, and Amazon Chime cannot show whether "
                f"{request.change.replace('_', ' ')} took effect. Retry to run it again."
            )
        return (
            "the bot stopped before Chime confirmed, and Amazon Chime shows the change was not "
            "made. Retry to run it again."
        )
    done = "invited" if request.account.is_team else "created"
    return (
        "the bot stopped before Chime confirmed, and Amazon Chime has no user with this "
        f"address: the user was not {done}. Retry to run it again."
    )


@dataclass(frozen=True, slots=True)
class Steps:
    """The workflow's parts every step needs, and the steps shared by both paths."""

    store: RequestStore
    directory: Directory
    notifier: Notifier
    clock: Clock
    metrics: Metrics
    # CHIME_EXECUTION_LEASE: each claim of an execution records its end by this replica's clock
    # (Move's `lease`), and no other replica settles the request before then.
    lease: float
    # Told of every request filed or changed (App Home refreshes, bot/approvals/home.py); must
    # not block.
    on_change: Callable[[InviteRequest], None] | None = None
    # How far other replicas' clocks may be from this one's: deadlines are judged with this
    # allowance (bot/aws_clock.py; 0 where no other machine judges them).
    margin: float = 0.0
    # Where a reset PIN goes: its owner's DM only (bot/approvals/pins.py); None: nowhere.
    pins: PinCourier | None = None

    # ---- undoing and ending ----------------------------------------------------------------

    async def withdraw(self, requests: list[InviteRequest], error: str) -> None:
        now = self.clock.now()
        for request in requests:
            await self.store.transition(request.id, Move.withdraw(SYSTEM, now, error))

    async def not_posted(
        self, requests: list[InviteRequest], channel: str, exc: CardNotPosted
    ) -> tuple[Reply, str]:
        """Withdraw requests whose card Slack refused: nothing half-done, since without a
        card no one can approve them."""
        await self.withdraw(requests, f"approval card not posted: {exc}")
        return error_card(
            "Request not filed",
            f"The approval card could not be posted in channel {channel} (Slack said "
            f"{exc}), so nothing was filed.",
            hint="Ask an admin to add the bot to that channel or fix CHIME_APPROVAL_CHANNEL.",
        ), "card_failed"

    async def finish(
        self,
        request: InviteRequest,
        to: Status,
        actor: str,
        action: str,
        quiet: bool = False,  # a batch shows its card and tells its requester once, itself
        **changes: Any,
    ) -> None:
        """End an `approving` request as `to`, with the fields to store with it. A time-bound
        invite's period starts here, when it is approved (the user created or invited): its
        end goes into the same write."""
        now = self.clock.now()
        seconds = request.access_for
        if to == Status.APPROVED and seconds is not None:
            changes["access_until"] = now + seconds
        move = Move.finish(to, actor, now, action=action, **changes)
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
                await self.report(done.request)

    async def settle_from_chime(
        self,
        request: InviteRequest,
        actor: str,
        if_missing: str | None,
        retrying: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Finish an `approving` request from what Chime says now. True if it was settled:
        the user exists (approved), the lookup failed (failed), or `if_missing` says to fail it."""
        try:
            if await self.settle_if_found(request, actor, retrying=retrying, quiet=quiet):
                return True
        except ChimeError as exc:
            await self.finish(
                request,
                Status.FAILED,
                actor,
                "reconciled",
                error=f"could not confirm with Chime: {exc.message}",
                quiet=quiet,
            )
            return True
        if if_missing is not None:
            await self.finish(
                request, Status.FAILED, actor, "reconciled", quiet=quiet, error=if_missing
            )
            return True
        return False

    async def settle_stranded(self, request: InviteRequest) -> bool:
        """Settle an `approving` request whose claimer's lease is over, from what Chime says:
        approved if the user is there, failed (retryable) only if Chime says they are not, and
        left as it is while Chime cannot be asked. True if it was settled."""
        try:
            found = await self.settle_if_found(request, SYSTEM)
        except ChimeError as exc:
            log_unknown(request, exc)
            return False
        if not found:
            error = not_in_chime(request)
            await self.finish(request, Status.FAILED, SYSTEM, "reconciled", error=error)
        return True

    async def settle_if_found(
        self,
        request: InviteRequest,
        actor: str,
        *,
        retrying: bool = False,
        quiet: bool = False,
    ) -> bool:
        """Look the request's user up in Chime and finish it approved if they are there (True).
        False: Chime has no such user, and the request is left as it is; ChimeError: Chime
        could not be asked, and nothing changed."""
        if request.change != Change.INVITE:
            if not await change_done(self.directory, request):
                return False
            result = {"user_id": user_id_of(request), "reconciled": "true"}
            await self.finish(
                request, Status.APPROVED, actor, "reconciled", quiet=quiet, result=result
            )
            return True
        account = request.account
        record = await self.directory.user_in(account, request.email, patient=True)
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
        if record is None:
            return False
        result = {"user_id": record.user.user_id, "reconciled": "true"}
        if account.is_team:
            result["invite_status"] = record.user.invitation_status or "Pending"
        await self.finish(request, Status.APPROVED, actor, "reconciled", quiet=quiet, result=result)
        return True

    async def expire(self, request: InviteRequest, actor: str) -> Reply:
        """Expire a request past its deadline (a bulk invite's pending requests together), show
        it and tell the requester once; the note for whoever clicked on it."""
        if request.batch_id is not None:
            lead = await self.store.get(request.batch_id) or request
            if lead.decided_in_time:
                # The approver's click came in time for every address: the others follow the
                # lead (batches.follow, or the sweep's follow_leads), whatever the clock says.
                return decided_already_note(lead)
            now = self.clock.now()
            batch = await self.store.list_batch(request.batch_id)
            pending = [m for m in batch if m.status == Status.PENDING]
            moved = await self.move_each(pending, Move.expire(actor, now))
        else:
            expired = await self.store.transition(request.id, Move.expire(actor, self.clock.now()))
            moved = [expired.request] if expired.ok and expired.request is not None else []
        for _ in moved:
            self.metrics.approval(Status.EXPIRED.value)
        if moved and request.batch_id is not None:
            # Rivals may still be moving the others: only the final card, once, by whoever
            # claims it after the last address has moved.
            await self.report_batch(request.batch_id, progress=False)
        elif moved:
            await self.report(moved[0])
        return expired_note(request)

    async def move_each(self, members: list[InviteRequest], move: Move) -> list[InviteRequest]:
        """Make `move` on each of `members`, each its own conditional write, all at once; the
        requests this call moved (one a rival moved first is left to that rival)."""
        done = await asyncio.gather(*(self.store.transition(m.id, move) for m in members))
        return [d.request for d in done if d.ok and d.request is not None]

    # ---- telling people --------------------------------------------------------------------

    async def show(self, request: InviteRequest) -> None:
        """Bring the request's card (its batch's, for a bulk invite) up to date."""
        if request.batch_id is not None:
            await self.show_batch(request.batch_id)
            return
        if request.card_channel and request.card_ts:
            card = approval_card(request, await self.lapsed_of(request))
            await self.notifier.update_card(request.card_channel, request.card_ts, card)
        self.changed(request)

    async def show_batch(self, batch_id: str) -> None:
        """Bring a bulk invite's card up to date after a step (its final card: report_batch)."""
        members = await self.store.list_batch(batch_id)
        if members:
            await self._show_members(lead_of(members), members)

    async def _show_members(self, lead: InviteRequest, members: list[InviteRequest]) -> None:
        if lead.card_channel and lead.card_ts:
            card = batch_card(members, await self.skipped_of(lead.id), await self.lapsed_of(lead))
            await self.notifier.update_card(lead.card_channel, lead.card_ts, card)
        self.changed(lead)  # App Home: a bulk invite is shown by its lead

    async def skipped_of(self, batch_id: str) -> dict[str, str]:
        """The addresses a bulk invite left out at filing, and why."""
        events = await self.store.audit_trail(batch_id)
        return {k: v for e in events if e.action == SKIPPED for k, v in e.detail.items()}

    async def lapsed_of(self, request: InviteRequest) -> dict[str, str]:
        """The earlier approvals taken off a waiting request as no longer counting, and why
        (bot/approvals/two_person.py); read only where the card can show them."""
        if request.status != Status.PENDING or request.approvals_required < 2:
            return {}
        events = await self.store.audit_trail(request.id)
        return {k: v for e in events for k, v in lapsed_in(e).items()}

    def changed(self, request: InviteRequest) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(request)
        except Exception:  # a refresh is a courtesy: it never breaks the flow
            log.warning("could not schedule a refresh for %s", request.id, exc_info=True)

    async def report(self, request: InviteRequest) -> None:
        """The card and the requester's note after this caller changed `request`: a single
        request's from that one change, a bulk invite's as `report_batch` says."""
        if request.batch_id is not None:
            await self.report_batch(request.batch_id)
            return
        await self.show(request)
        await self.tell_requester(request)

    async def tell_requester(self, request: InviteRequest) -> None:
        """A single request's outcome note; its caller made the change it tells of. A change the
        bot filed itself is told to the person it acted for (`on_behalf_of`), if any."""
        who = request.params.get("on_behalf_of") or request.requester
        if who == SYSTEM:
            return
        await self.notifier.tell_user(who, request.origin_channel, outcome_note(request))

    async def report_batch(self, batch_id: str, *, progress: bool = True) -> None:
        """A bulk invite's card after a step (if `progress`) while some of it is pending or
        working; once it is settled, its final card and its one note, from the one caller of
        any replica that claims that outcome (`outcome_message`) in the store. Read after this
        caller's own moves, so whoever moved the last address finds it settled."""
        members = await self.store.list_batch(batch_id)
        if not members:
            return
        lead = lead_of(members)
        if any(m.status in _UNSETTLED for m in members):
            if progress:
                await self._show_members(lead, members)
            return
        message = outcome_message(members)
        if not await self.store.claim_message(lead.id, message, now=self.clock.now()):
            self.changed(lead)  # the winner updates the card; App Home here still refreshes
            return
        await self._show_members(lead, members)
        await self.notifier.tell_user(
            lead.requester, lead.origin_channel, batch_outcome_note(members)
        )


def outcome_message(members: list[InviteRequest]) -> str:
    """What a settled bulk invite's note says, as a name to claim it by: how many addresses
    ended in each status, and how many claims to run them there were. Rivals finding the same
    outcome name it alike; an outcome a Retry brings about (more attempts) is told again."""
    counts = Counter(m.status.value for m in members)
    tally = " ".join(f"{status}={n}" for status, n in sorted(counts.items()))
    return f"batch outcome {tally} attempts={sum(m.attempts for m in members)}"
