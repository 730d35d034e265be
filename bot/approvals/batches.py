"""Bulk invites: `/chime invite a@x.com b@y.com …` as one request with one card.

A batch is N ordinary requests, one per email, sharing `batch_id`: the id of its first request
(the lead), which is also the value its buttons carry. So every per-email guarantee of a single
request holds for each address unchanged: the store's dedupe lock per (email, account), the
conditional claims, `create_once`, reconciliation by lookup, and a per-email audit trail.

- Filing: each address already in Chime, or already requested (an open request for the same
  email and account, whoever filed it), is skipped, listed on the card and in the requester's
  note, and kept as one "skipped" audit event on the lead. If none is left, nothing is filed.
  For fair use a batch counts as one filing.
- Deciding: the decision is the lead's claim (one conditional write, as for a single request),
  so a batch is approved or denied as a whole, by one approver; the other requests then follow
  the lead, each by its own conditional claim, so one already moved elsewhere is left alone.
  Approval runs one InviteUsers for all claimed addresses on a Team account, CreateUser per
  address on an Enterprise one (bot/approvals/execution.py). Retry claims only the failed requests
  and looks each up in Chime before calling again.
- Crashes: a request stranded in `approving` once its claimer's lease is over is looked up in
  Chime: approved if its user is there, else run by the sweep like the requests left pending
  behind a decided lead (a crash between the lead's claim and theirs), which follow it on a
  sweep once the lead's claim has run out. So a decider that died leaves no address `failed`
  that nothing failed for at Chime (`resume_stranded`, `follow_leads`).
- Part of the invite workflow: these functions use the steps a single request uses too
  (bot/approvals/steps.py: finish, settle from Chime, withdraw, expire, show, tell), and the
  filing checks of bot/approvals/filing.py; only what is a batch's own is here.
- One card, one note: the card is rendered from all requests of the batch after each step, and
  the requester gets one note once none is pending or working, from whichever caller claims
  that outcome in the store first, on any replica (`Steps.show_batch`, `Steps.report_batch`).
  Reminders and expiry act once per batch (bot/approvals/reminders.py reminds about the lead
  only; an expiry's card update and note are claimed like an outcome's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from bot.approvals.execution import run_batch_call
from bot.approvals.filing import Filing, FilingLost, filed_after_all
from bot.approvals.steps import INTERRUPTED, SKIPPED, Steps, log_unknown
from bot.cards.base import Reply
from bot.cards.batch import batch_card, batch_filed_note, lead_of, nothing_filed_note
from bot.cards.notes import decided_already_note
from bot.chime.accounts import choose_account
from bot.errors import ChimeError
from bot.policy.effective import AccountPolicy, draft
from bot.slack.commands import Invite
from bot.slack.notify import CardNotPosted
from bot.store import (
    AuditEvent,
    DuplicateRequest,
    InviteRequest,
    Move,
    Status,
    StoreUnanswered,
    TooManyOpen,
    new_request_id,
)
from bot.store.model import SYSTEM

# ---- filing --------------------------------------------------------------------------------


async def file_batch(
    filing: Filing, cmd: Invite, requester: str, origin_channel: str
) -> tuple[Reply, str]:
    """File one request per address and post the one card; the requester's note and outcome."""
    async with filing.fair_use.turn(requester):
        filed = await _register(filing, cmd, requester, origin_channel)
    if not isinstance(filed, _Filed):
        return filed
    return await post_batch(filing, filed.members, filed.skipped, origin_channel)


@dataclass(frozen=True, slots=True)
class _Filed:
    members: list[InviteRequest]
    skipped: dict[str, str]  # address -> why it was left out


async def _register(
    filing: Filing, cmd: Invite, requester: str, origin_channel: str
) -> tuple[Reply, str] | _Filed:
    steps = filing.steps
    refusal = await filing.fair_use.refusal(requester, now=steps.clock.now())
    if refusal is not None:
        return refusal, "too_many_open"
    emails = list(cmd.all_emails)
    directory = steps.directory
    with directory.one_budget():  # the requester waits for all of it
        account = await choose_account(directory, cmd.account, filing.default_account)
        rules = await filing.rules_for_filing(account, cmd, requester, origin_channel)
        if not isinstance(rules, AccountPolicy):
            return rules
        holders = await asyncio.gather(*(directory.list_accounts(user_email=e) for e in emails))
    skipped = {
        email: "already in Amazon Chime (" + ", ".join(a.name for a in found) + ")"
        for email, found in zip(emails, holders, strict=True)
        if found
    }
    now = steps.clock.now()
    template = draft(cmd, account, rules, requester, origin_channel, now)

    async def one(email: str, batch_id: str | None, required: int = 1) -> InviteRequest | None:
        request_id = new_request_id()
        request = replace(
            template,
            id=request_id,
            email=email,
            batch_id=batch_id or request_id,
            approvals_required=required,
        )
        try:
            # The cap counts the batch once: its later requests pass as part of the lead.
            return await steps.store.file(request, now=now, max_open=filing.fair_use.max_open)
        except DuplicateRequest as dup:
            skipped[email] = f"already requested in {dup.existing.id} ({dup.existing.status})"
            return None
        except StoreUnanswered:
            return await filed_after_all(steps.store, request)  # or FilingLost

    members: list[InviteRequest] = []
    waiting = [e for e in emails if e not in skipped]
    # The lead first (its id names the batch), then the others together.
    while waiting and not members:
        # Only the lead carries the two-person rule: the others follow its claim (`follow`),
        # which the store grants only once the lead's approvals are all recorded.
        try:
            lead = await one(waiting.pop(0), None, rules.approvals_required)
        except TooManyOpen as cap:  # another replica filed for this person meanwhile
            return filing.fair_use.refused(cap.held), "too_many_open"
        except FilingLost as lost:
            return lost.reply()
        members += [lead] if lead is not None else []
    if not members:
        return nothing_filed_note(skipped), "nothing_new"
    batch_id = members[0].id
    rest = await asyncio.gather(*(one(e, batch_id) for e in waiting), return_exceptions=True)
    members += [m for m in rest if isinstance(m, InviteRequest)]
    failure = next((r for r in rest if isinstance(r, BaseException)), None)
    try:
        if failure is not None:
            raise failure
        if skipped:
            await steps.store.record(AuditEvent(batch_id, now, requester, SKIPPED, dict(skipped)))
    except Exception as exc:
        # Nothing half-done: a batch the store could not take whole is withdrawn whole. (If
        # this cannot be written either, the sweep withdraws it: bot/approvals/orphans.py.)
        await steps.withdraw(members, f"filing did not complete: {exc}")
        if isinstance(exc, FilingLost):
            return exc.reply()
        raise
    return _Filed(members, skipped)


async def post_batch(
    filing: Filing, members: list[InviteRequest], skipped: dict[str, str], origin_channel: str
) -> tuple[Reply, str]:
    steps = filing.steps
    channel = filing.approval_channel or origin_channel
    try:
        ts = await steps.notifier.post_card(channel, batch_card(members, skipped))
    except CardNotPosted as exc:
        return await steps.not_posted(members, channel, exc)
    lead = lead_of(members)
    # The lead first: its card is the one every click is checked against.
    stored = [await steps.store.set_card(lead.id, channel, ts) or lead]
    others = [m for m in members if m.id != lead.id]
    found = await asyncio.gather(*(steps.store.set_card(m.id, channel, ts) for m in others))
    stored += [f or m for f, m in zip(found, others, strict=True)]
    steps.changed(stored[0])
    return batch_filed_note(stored, skipped, channel), "filed"


# ---- deciding ------------------------------------------------------------------------------


async def follow(steps: Steps, lead: InviteRequest, actor: str, *, lead_claimed: bool) -> int:
    """Give the batch's pending requests the lead's decision, each by its own claim, and carry
    it out; returns how many requests this call moved. `lead_claimed`: this caller has just
    made the decision (bot/approvals/decision.py), so the lead runs with the others."""
    now = steps.clock.now()
    if lead.status == Status.EXPIRED:
        await steps.expire(lead, actor)
        return 0
    move = Move.follow(lead, actor, now, lease=steps.lease, margin=steps.margin)
    approve = move.to == Status.APPROVING
    pending = [
        m
        for m in await steps.store.list_batch(lead.id)
        if m.status == Status.PENDING and m.id != lead.id
    ]
    moved = await steps.move_each(pending, move)
    if lead_claimed:
        moved.insert(0, lead)
    if not moved:
        return 0
    if approve:
        await steps.show_batch(lead.id)
        await _execute(steps, moved, actor)
    else:
        for _ in moved:
            steps.metrics.approval(Status.DENIED.value)
        await steps.report_batch(lead.id)
    return len(moved)


async def retry_batch(steps: Steps, request: InviteRequest, user: str) -> Reply | None:
    """Retry on a bulk invite's card: only its failed requests run again, each looked up in
    Chime first."""
    lead = await steps.store.get(str(request.batch_id)) or request
    now = steps.clock.now()
    failed = [m for m in await steps.store.list_batch(lead.id) if m.status == Status.FAILED]
    claimed = await steps.move_each(failed, Move.retry(user, now, lease=steps.lease))
    if not claimed:
        return decided_already_note(await steps.store.get(lead.id) or lead)
    await steps.show_batch(lead.id)
    # An attempt that failed may have reached Chime after all: look before calling again.
    settled = await asyncio.gather(
        *(
            steps.settle_from_chime(m, user, if_missing=None, retrying=True, quiet=True)
            for m in claimed
        )
    )
    rest = [m for m, done in zip(claimed, settled, strict=True) if not done]
    if rest:
        await _execute(steps, rest, user)
    else:
        await steps.report_batch(lead.id)
    return None


async def run_claimed(steps: Steps, claimed: list[InviteRequest], actor: str) -> None:
    """Run the Chime calls of a batch's requests this caller has claimed, and finish each,
    quietly: its caller says the outcome (a change run without approval, in its reply)."""
    outcomes = await run_batch_call(steps.directory, claimed, steps.pins)
    done = [(m, status, changes) for m, (status, changes) in zip(claimed, outcomes, strict=True)]
    await _finish_all(steps, done, actor, None)


async def _execute(steps: Steps, claimed: list[InviteRequest], actor: str) -> None:
    """Run the Chime calls for requests this caller has claimed (`approving`)."""
    batch_id = str(claimed[0].batch_id)
    try:
        outcomes = await run_batch_call(steps.directory, claimed, steps.pins)
    except asyncio.CancelledError:
        # Shutdown cut the wait short; Chime may still act on the calls in flight, so each
        # request becomes retryable, and Retry looks it up before calling again.
        interrupted = [(m, Status.FAILED, {"error": INTERRUPTED}) for m in claimed]
        await asyncio.shield(_finish_all(steps, interrupted, actor, "interrupted", show=True))
        raise
    done = [(m, status, changes) for m, (status, changes) in zip(claimed, outcomes, strict=True)]
    await _finish_all(steps, done, actor, None)
    # Rivals (a sweep following the lead, reconciliation) may be finishing other addresses:
    # whichever of us finds the batch settled and claims it sends the final card and note.
    await steps.report_batch(batch_id)


async def _finish_all(
    steps: Steps,
    outcomes: list[tuple[InviteRequest, Status, dict[str, Any]]],
    actor: str,
    action: str | None,
    *,
    show: bool = False,
) -> None:
    await asyncio.gather(
        *(
            steps.finish(m, status, actor, action or status.value, quiet=True, **changes)
            for m, status, changes in outcomes
        )
    )
    if show:
        await steps.show_batch(str(outcomes[0][0].batch_id))


# ---- housekeeping --------------------------------------------------------------------------


async def resume_stranded(steps: Steps, stranded: list[InviteRequest]) -> int:
    """Settle requests of one bulk invite left `approving` by a claimer whose lease is over
    (reconcile has judged that), as their followers are: approved if Chime has the user, run
    now if it has not, left for the next sweep while Chime cannot be asked. Returns how many
    were settled or run.

    Running one is safe, never a second user: Chime was asked just now and has no user for
    the address, and the claimer's lease, longer than its longest Chime call (settings check
    it), is over, so a call it made has ended without effect, or it never reached Chime. The
    approver approved every address on the card; failing this one, while the sweep creates
    the addresses that follow it, would tell the requester "Partly failed" though nothing
    failed at Chime. The resume is a conditional claim (Move.resume): of replicas sweeping
    together, one runs it, and the others find the claim renewed. It counts as another
    attempt, so a conflict proves no "already existed" (create_once).
    """
    batch_id = str(stranded[0].batch_id)
    absent: list[InviteRequest] = []
    settled = 0
    for request in stranded:
        try:
            found = await steps.settle_if_found(request, SYSTEM, quiet=True)
        except ChimeError as exc:
            log_unknown(request, exc)
            continue
        if found:
            settled += 1
        else:
            absent.append(request)
    resume = Move.resume(SYSTEM, steps.clock.now(), lease=steps.lease)
    resumed = await steps.move_each(absent, resume)
    if resumed:
        await steps.show_batch(batch_id)
        await _execute(steps, resumed, SYSTEM)
    elif settled:
        await steps.report_batch(batch_id)
    return settled + len(resumed)


async def follow_leads(steps: Steps, lease: float) -> int:
    """Requests still pending behind a lead whose claim has run out (the decider stopped
    between the two claims) get its decision now; returns how many moved."""
    now = steps.clock.now()
    behind = {
        m.batch_id
        for m in await steps.store.list_by_status(Status.PENDING)
        if m.batch_id is not None and m.batch_id != m.id
    }
    moved = 0
    for batch_id in sorted(behind):
        lead = await steps.store.get(batch_id)
        if lead is None or lead.status == Status.PENDING:
            continue
        # While the lead is claimed, its claimer's measure decides (Move's lease_until); a lead
        # finished or denied claims nothing, and its decision's time and this replica's lease
        # do (a claimer follows the others before it runs the lead: batches.follow).
        if lead.status == Status.APPROVING and lead.lease_until is not None:
            held_until = lead.lease_until
        else:
            held_until = (lead.decided_at or lead.updated_at) + lease
        if now < held_until:
            continue  # its decider may still be at work, here or on another replica
        moved += await follow(steps, lead, SYSTEM, lead_claimed=False)
    return moved
