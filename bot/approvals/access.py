"""Time-bound access (issue 21): ending it, offering to extend it, and extending it.

An invite filed with `--for` (or on an account with `max_access`) carries its period in
`params["access_for"]`; its end, `access_until`, is set in the write that approves it
(`Steps.finish`): the period starts when the user is created or invited, not when the request
was filed. Every replica's sweep then does, for each running access (`list_time_bound`):

- Before the end (a day before, or with a tenth of the period left if that is later), the
  requester gets one DM with an Extend button, claimed in the store (`claim_message`, named by
  the end: an extended access is offered again before its new end).
- At the end, the user is suspended with the engine's own suspension, run without approval by
  "system" and audited as such ({"why": "access ended", "access_of": <invite>}):
    1. the user is looked up (a Team invitation never accepted has no user: nothing to suspend);
    2. a suspension request is filed whose id is derived from the invite and its end, so every
       replica files the same one, and only one is ever stored;
    3. the end is claimed on the invite (`Move.end_access`, one conditional write: exactly one
       replica wins it, and an extension approved first makes it fail);
    4. the winner claims the suspension (`Move.run_unapproved`, conditional again) and runs it:
       one BatchSuspendUser, settled like any other (a lost answer is looked up, a claimer that
       died is reconciled after its lease).
  A replica that stops between 3 and 4 leaves the suspension pending without a card: the next
  sweep finds it (`run_left`) and runs it, or withdraws it if an extension had moved the end
  before the claim. Orphan withdrawal leaves these alone (bot/approvals/orphans.py).
- Extend files a `Change.EXTEND` request the account's approvers decide like any other (policy
  action `extend`); its deadline is the end itself, so it is never approved after the access
  ended. Its approval is no Chime call: `Move.extend_access` moves the invite's end, only from
  the end it was filed against (the store orders it against the sweep's claim).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import replace

from bot.approvals.decision import execute
from bot.approvals.filing import Filing
from bot.approvals.steps import Steps
from bot.cards.access import ended_note, extend_offer
from bot.cards.approval import approval_card
from bot.cards.base import Reply, error_card
from bot.cards.changes import NO_APPROVAL
from bot.cards.notes import decided_already_note, duplicate_note, outcome_note
from bot.errors import ChimeError
from bot.slack.notify import CardNotPosted
from bot.store import (
    Change,
    DuplicateRequest,
    InviteRequest,
    Move,
    Status,
    StoreError,
    TooManyOpen,
    new_request_id,
)
from bot.store.model import SYSTEM

log = logging.getLogger("chime_bot.access")

DAY = 86_400.0
ACCESS_ENDED = "access ended"
# How long a suspension the sweep filed may wait to be run (by the sweep that filed it, or the
# next one): far longer than any sweep interval.
RUN_WINDOW = DAY
# How many times the sweeps run an access end's suspension before its card goes to the
# approvers with Retry: enough to ride out a throttle or an outage of a few sweeps, few enough
# that a refusal (Forbidden, say) is put before a person within minutes, not retried forever.
ACCESS_END_TRIES = 3
FAILED_CARD = "failed access end card"


def offer_lead(period: float) -> float:
    """How long before the end the Extend offer goes: a day, or a tenth of the period if that
    comes later (an 8-hour access is offered 48 minutes before its end)."""
    return min(DAY, period / 10)


def suspension_id(invite: InviteRequest) -> str:
    """The one id of the suspension that ends `invite`'s access at its current end: every
    replica derives the same, so the store keeps one however many file it."""
    seed = f"{invite.id}#access#{invite.access_until!r}".encode()
    return "REQ-" + base64.b32encode(hashlib.sha256(seed).digest()).decode()[:10]


def is_access_suspension(request: InviteRequest) -> bool:
    return (
        request.change == Change.SUSPEND
        and request.requester == SYSTEM
        and "access_of" in request.params
    )


async def sweep_access(steps: Steps, *, margin: float, approval_channel: str | None = None) -> int:
    """Run what a stopped replica left, try failed access ends again, offer extensions that
    are due, end accesses that are over; returns how many accesses this call ended."""
    await run_left(steps)
    await retry_failed(steps, approval_channel)
    ended = 0
    for invite in await steps.store.list_time_bound():
        now = steps.clock.now()
        until = invite.access_until
        if until is None:
            continue
        if until <= now - margin:
            ended += await end_access(steps, invite, margin=margin)
        elif until - now <= offer_lead(float(invite.access_for or 0)):
            await offer_extension(steps, invite)
    return ended


async def offer_extension(steps: Steps, invite: InviteRequest) -> None:
    name = f"extend offer {invite.access_until!r}"
    if not await steps.store.claim_message(invite.id, name, now=steps.clock.now()):
        return
    await steps.notifier.tell_user(invite.requester, invite.origin_channel, extend_offer(invite))


async def end_access(steps: Steps, invite: InviteRequest, *, margin: float) -> int:
    """Steps 1 to 4 of the module's notes for one invite whose end has come; 1 if this call
    claimed the end."""
    try:
        found = await steps.directory.user_in(invite.account, invite.email, patient=True)
    except ChimeError as exc:
        log.warning("cannot look up %s to end its access (%s); next sweep", invite.id, exc.code)
        return 0
    until = float(invite.access_until or 0.0)
    suspension: InviteRequest | None = None
    if found is not None:
        suspension = await file_suspension(steps, invite, found.user.user_id)
        if suspension is None:
            return 0
    claimed = await steps.store.transition(
        invite.id, Move.end_access(until, steps.clock.now(), margin=margin)
    )
    if not claimed.ok or claimed.request is None:
        current = claimed.request
        if suspension is not None and current is not None and current.access_until != until:
            # Extended first: this end is no end; its suspension must never run.
            await steps.withdraw([suspension], "the access was extended before it ended")
        return 0
    steps.changed(claimed.request)
    if suspension is None:
        await _tell(steps, claimed.request, None)
        return 1
    await _run(steps, claimed.request, suspension)
    return 1


async def file_suspension(
    steps: Steps, invite: InviteRequest, user_id: str
) -> InviteRequest | None:
    now = steps.clock.now()
    request = InviteRequest(
        id=suspension_id(invite),
        email=invite.email,
        user_type=invite.user_type,
        reason=ACCESS_ENDED,
        account_id=invite.account_id,
        account_name=invite.account_name,
        account_type=invite.account_type,
        requester=SYSTEM,
        origin_channel=invite.origin_channel,
        created_at=now,
        expires_at=now + RUN_WINDOW,
        updated_at=now,
        change=Change.SUSPEND,
        # Its outcome is told to whoever asked for the access (Steps.tell_requester).
        params={"user_id": user_id, "access_of": invite.id, "on_behalf_of": invite.requester},
    )
    try:
        return await steps.store.file(request, now=now)
    except ValueError:
        pass  # another replica (or an earlier sweep) filed it: the same one
    except DuplicateRequest as dup:
        if dup.existing.id != request.id:
            log.warning(
                "access of %s ended, but %s (an open suspension) stands in the way; next sweep",
                invite.id,
                dup.existing.id,
            )
            return None
    except StoreError:
        pass  # the write may have landed: read it back
    return await steps.store.get(request.id)


async def run_left(steps: Steps) -> None:
    """The suspensions a stopped replica filed and did not run: run the ones whose access has
    ended, withdraw the ones an extension made stale."""
    for request in await steps.store.list_by_status(Status.PENDING):
        if not is_access_suspension(request):
            continue
        invite = await steps.store.get(request.params["access_of"])
        if invite is None:
            continue
        if invite.access_ended_at is not None and suspension_id(invite) == request.id:
            await _run(steps, invite, request)
        elif invite.access_running and suspension_id(invite) != request.id:
            await steps.withdraw([request], "the access was extended before it ended")


async def retry_failed(steps: Steps, approval_channel: str | None) -> None:
    """An access end whose suspension failed is not left there: each sweep runs it again (a
    retry looks first, as an approver's does) until ACCESS_END_TRIES attempts, then posts its
    card, once, in the approval channel, where approvers can Retry it."""
    for request in await steps.store.list_by_status(Status.FAILED):
        if not is_access_suspension(request):
            continue
        if request.attempts < ACCESS_END_TRIES:
            await _again(steps, request)
        elif request.card_ts is None and approval_channel:
            await _put_before_approvers(steps, request, approval_channel)


async def _again(steps: Steps, request: InviteRequest) -> None:
    claimed = await steps.store.transition(
        request.id, Move.retry(SYSTEM, steps.clock.now(), lease=steps.lease)
    )
    if not claimed.ok or claimed.request is None:
        return  # another replica's sweep took it
    if not await steps.settle_from_chime(
        claimed.request, SYSTEM, if_missing=None, retrying=True, quiet=True
    ):
        await execute(steps, claimed.request, SYSTEM, quiet=True)
    done = await steps.store.get(request.id)
    invite = await steps.store.get(request.params["access_of"])
    if done is not None and invite is not None and done.status == Status.APPROVED:
        await _tell(steps, invite, done)


async def _put_before_approvers(steps: Steps, request: InviteRequest, channel: str) -> None:
    if not await steps.store.claim_message(request.id, FAILED_CARD, now=steps.clock.now()):
        return
    try:
        ts = await steps.notifier.post_card(channel, approval_card(request))
    except CardNotPosted as exc:
        log.error(
            "access end %s failed and its card could not be posted (%s): suspend by hand",
            request.id,
            exc,
            extra={"request_id": request.id},
        )
        return
    stored = await steps.store.set_card(request.id, channel, ts)
    steps.changed(stored or request)


async def _run(steps: Steps, invite: InviteRequest, suspension: InviteRequest) -> None:
    move = Move.run_unapproved(SYSTEM, steps.clock.now(), lease=steps.lease)
    move = replace(move, detail=(("why", ACCESS_ENDED), ("access_of", invite.id)))
    claimed = await steps.store.transition(suspension.id, move)
    if not claimed.ok or claimed.request is None:
        return  # run by another replica
    await execute(steps, claimed.request, SYSTEM, quiet=True)
    await _tell(steps, invite, await steps.store.get(suspension.id) or claimed.request)


async def _tell(steps: Steps, invite: InviteRequest, suspension: InviteRequest | None) -> None:
    note = ended_note(invite, suspension)
    await steps.notifier.tell_user(invite.requester, invite.origin_channel, note)


# ---- extending ---------------------------------------------------------------------------


async def file_extension(filing: Filing, invite_id: str, user: str) -> tuple[Reply, str]:
    """Extend, clicked by `user` on the offer about `invite_id`: file the extension for the
    account's approvers (or run it, where the policy needs none)."""
    steps = filing.steps
    invite = await steps.store.get(invite_id)
    if invite is None or not invite.access_running or invite.access_for is None:
        return error_card(
            "Nothing to extend", "This access has ended, or is not time-bound any more."
        ), "refused"
    if user != invite.requester:
        return error_card(
            "Not yours to extend", "Only the person who asked for this access can extend it."
        ), "refused"
    known = await steps.directory.all_accounts() if filing.book.from_file else None
    rules = filing.book.for_account(invite.account_id, invite.account_name, known)
    approval = rules.needs_approval("extend")
    now = steps.clock.now()
    until = float(invite.access_until or 0.0)
    request = InviteRequest(
        id=new_request_id(),
        email=invite.email,
        user_type=invite.user_type,
        reason="extend time-bound access",
        account_id=invite.account_id,
        account_name=invite.account_name,
        account_type=invite.account_type,
        requester=user,
        origin_channel=invite.origin_channel,
        created_at=now,
        # Decided before the access ends, or not at all: an approval never revives an access
        # the sweep has ended.
        expires_at=min(now + rules.ttl, until),
        updated_at=now,
        approvals_required=rules.approvals_required if approval else 1,
        change=Change.EXTEND,
        params={
            "access_of": invite.id,
            "from_until": repr(until),
            "until": repr(until + invite.access_for),
            **({} if approval else {"approval": NO_APPROVAL}),
        },
    )
    try:
        stored = await steps.store.file(request, now=now, max_open=filing.fair_use.max_open)
    except DuplicateRequest as dup:
        return duplicate_note(dup.existing), "duplicate"
    except TooManyOpen as cap:
        return filing.fair_use.refused(cap.held), "too_many_open"
    if approval:
        return await filing.post(stored, invite.origin_channel)
    claimed = await steps.store.transition(
        stored.id, Move.run_unapproved(user, steps.clock.now(), lease=steps.lease)
    )
    if not claimed.ok or claimed.request is None:
        return decided_already_note(claimed.request or stored), "refused"
    await execute(steps, claimed.request, user, quiet=True)
    return outcome_note(await steps.store.get(stored.id) or claimed.request), "ran"
