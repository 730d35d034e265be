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
- Crashes: a request stranded in `approving` is settled by the usual reconciliation (bot/
  approvals.py); requests left pending behind a decided lead (a crash between the lead's claim
  and theirs) follow it on a sweep once the lead's decision is older than the execution lease.
- Part of the invite workflow: these functions extend `Approvals` (they use its claims and
  finishing steps, `_finish` and `_settle_from_chime`), kept apart so each module stays small.
- One card, one note: the card is rendered from all requests of the batch after each step, and
  the requester gets one note once none is pending or working. Reminders and expiry act once
  per batch (bot/approvals/reminders.py reminds about the lead only).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.approvals.execution import run_batch_call
from bot.cards.base import Reply
from bot.cards.batch import (
    batch_card,
    batch_filed_note,
    batch_outcome_note,
    lead_of,
    nothing_filed_note,
)
from bot.cards.notes import decided_already_note
from bot.chime.accounts import choose_account
from bot.policy.effective import AccountPolicy, draft
from bot.slack.commands import Invite
from bot.slack.notify import CardNotPosted
from bot.store import AuditEvent, DuplicateRequest, InviteRequest, Move, Status, new_request_id
from bot.store.model import SYSTEM

if TYPE_CHECKING:
    from bot.approvals.engine import Approvals

SKIPPED = "skipped"  # the lead's audit event naming each skipped address and why
_UNSETTLED = frozenset({Status.PENDING, Status.APPROVING})
INTERRUPTED = "the bot shut down before Chime answered; Retry checks Chime first"


# ---- filing --------------------------------------------------------------------------------


async def file_batch(
    ap: Approvals, cmd: Invite, requester: str, origin_channel: str
) -> tuple[Reply, str]:
    """File one request per address and post the one card; the requester's note and outcome."""
    async with ap.fair_use.turn(requester):
        filed = await _register(ap, cmd, requester, origin_channel)
    if not isinstance(filed, _Filed):
        return filed
    return await _post(ap, filed.members, filed.skipped, origin_channel)


@dataclass(frozen=True, slots=True)
class _Filed:
    members: list[InviteRequest]
    skipped: dict[str, str]  # address -> why it was left out


async def _register(
    ap: Approvals, cmd: Invite, requester: str, origin_channel: str
) -> tuple[Reply, str] | _Filed:
    refusal = await ap.fair_use.refusal(requester, now=ap.clock.now())
    if refusal is not None:
        return refusal, "too_many_open"
    emails = list(cmd.all_emails)
    with ap.directory.one_budget():  # the requester waits for all of it
        account = await choose_account(ap.directory, cmd.account, ap.default_account)
        rules = await ap.rules_for_filing(account, cmd, requester, origin_channel)
        if not isinstance(rules, AccountPolicy):
            return rules
        holders = await asyncio.gather(*(ap.directory.list_accounts(user_email=e) for e in emails))
    skipped = {
        email: "already in Amazon Chime (" + ", ".join(a.name for a in found) + ")"
        for email, found in zip(emails, holders, strict=True)
        if found
    }
    now = ap.clock.now()
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
            return await ap.store.file(request, now=now)
        except DuplicateRequest as dup:
            skipped[email] = f"already requested in {dup.existing.id} ({dup.existing.status})"
            return None

    members: list[InviteRequest] = []
    waiting = [e for e in emails if e not in skipped]
    # The lead first (its id names the batch), then the others together.
    while waiting and not members:
        # Only the lead carries the two-person rule: the others follow its claim (`follow`),
        # which the store grants only once the lead's approvals are all recorded.
        lead = await one(waiting.pop(0), None, rules.approvals_required)
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
            await ap.store.record(AuditEvent(batch_id, now, requester, SKIPPED, dict(skipped)))
    except Exception as exc:
        # Nothing half-done: a batch the store could not take whole is withdrawn whole.
        await ap._withdraw(members, f"filing did not complete: {exc}")
        raise
    return _Filed(members, skipped)


async def _post(
    ap: Approvals, members: list[InviteRequest], skipped: dict[str, str], origin_channel: str
) -> tuple[Reply, str]:
    channel = ap.approval_channel or origin_channel
    try:
        ts = await ap.notifier.post_card(channel, batch_card(members, skipped))
    except CardNotPosted as exc:
        return await ap._not_posted(members, channel, exc)
    lead = lead_of(members)
    # The lead first: its card is the one every click is checked against.
    stored = [await ap.store.set_card(lead.id, channel, ts) or lead]
    others = [m for m in members if m.id != lead.id]
    found = await asyncio.gather(*(ap.store.set_card(m.id, channel, ts) for m in others))
    stored += [f or m for f, m in zip(found, others, strict=True)]
    ap._changed(stored[0])
    return batch_filed_note(stored, skipped, channel), "filed"


async def skipped_of(ap: Approvals, batch_id: str) -> dict[str, str]:
    events = await ap.store.audit_trail(batch_id)
    return {k: v for e in events if e.action == SKIPPED for k, v in e.detail.items()}


# ---- deciding ------------------------------------------------------------------------------


async def follow(ap: Approvals, lead: InviteRequest, actor: str, *, lead_claimed: bool) -> int:
    """Give the batch's pending requests the lead's decision, each by its own claim, and carry
    it out; returns how many requests this call moved. `lead_claimed`: this caller has just
    made the decision (Approvals.decide), so the lead runs with the others."""
    now = ap.clock.now()
    if lead.status == Status.EXPIRED:
        await ap._expire(lead, actor)
        return 0
    move = Move.follow(lead, actor, now)
    approve = move.to == Status.APPROVING
    pending = [
        m
        for m in await ap.store.list_batch(lead.id)
        if m.status == Status.PENDING and m.id != lead.id
    ]
    moved = await _move_each(ap, pending, move)
    if lead_claimed:
        moved.insert(0, lead)
    if not moved:
        return 0
    await show(ap, lead.id)
    if approve:
        await _execute(ap, moved, actor)
    else:
        for _ in moved:
            ap.metrics.approval(Status.DENIED.value)
        await tell_requester(ap, lead.id)
    return len(moved)


async def retry(ap: Approvals, request: InviteRequest, user: str) -> Reply | None:
    """Retry on a bulk invite's card: only its failed requests run again, each looked up in
    Chime first."""
    lead = await ap.store.get(str(request.batch_id)) or request
    now = ap.clock.now()
    failed = [m for m in await ap.store.list_batch(lead.id) if m.status == Status.FAILED]
    claimed = await _move_each(ap, failed, Move.retry(user, now))
    if not claimed:
        return decided_already_note(await ap.store.get(lead.id) or lead)
    await show(ap, lead.id)
    # An attempt that failed may have reached Chime after all: look before calling again.
    settled = await asyncio.gather(
        *(
            ap._settle_from_chime(m, user, if_missing=None, retrying=True, quiet=True)
            for m in claimed
        )
    )
    rest = [m for m, done in zip(claimed, settled, strict=True) if not done]
    if rest:
        await _execute(ap, rest, user)
    else:
        await show(ap, lead.id)
        await tell_requester(ap, lead.id)
    return None


async def _execute(ap: Approvals, claimed: list[InviteRequest], actor: str) -> None:
    """Run the Chime calls for requests this caller has claimed (`approving`)."""
    batch_id = str(claimed[0].batch_id)
    try:
        outcomes = await run_batch_call(ap.directory, claimed)
    except asyncio.CancelledError:
        # Shutdown cut the wait short; Chime may still act on the calls in flight, so each
        # request becomes retryable, and Retry looks it up before calling again.
        interrupted = [(m, Status.FAILED, {"error": INTERRUPTED}) for m in claimed]
        await asyncio.shield(_finish_all(ap, interrupted, actor, "interrupted"))
        raise
    done = [(m, status, changes) for m, (status, changes) in zip(claimed, outcomes, strict=True)]
    await _finish_all(ap, done, actor, None)
    await tell_requester(ap, batch_id)


async def _finish_all(
    ap: Approvals,
    outcomes: list[tuple[InviteRequest, Status, dict[str, Any]]],
    actor: str,
    action: str | None,
) -> None:
    await asyncio.gather(
        *(
            ap._finish(m, status, actor, action or status.value, quiet=True, **changes)
            for m, status, changes in outcomes
        )
    )
    await show(ap, str(outcomes[0][0].batch_id))


# ---- housekeeping --------------------------------------------------------------------------


async def expire(ap: Approvals, batch_id: str, actor: str) -> list[InviteRequest]:
    """Expire every pending request of the batch (Approvals._expire shows the card and tells
    the requester once); returns the requests this call expired."""
    now = ap.clock.now()
    pending = [m for m in await ap.store.list_batch(batch_id) if m.status == Status.PENDING]
    return await _move_each(ap, pending, Move.expire(actor, now))


async def _move_each(
    ap: Approvals, members: list[InviteRequest], move: Move
) -> list[InviteRequest]:
    """Make `move` on each of `members`, each its own conditional write, all at once; the
    requests this call moved (one a rival moved first is left to that rival)."""
    done = await asyncio.gather(*(ap.store.transition(m.id, move) for m in members))
    return [d.request for d in done if d.ok and d.request is not None]


async def follow_leads(ap: Approvals) -> int:
    """Requests still pending behind a lead decided more than the lease ago (the decider
    stopped between the two claims) get its decision now; returns how many moved."""
    cutoff = ap.clock.now() - ap.lease
    behind = {
        m.batch_id
        for m in await ap.store.list_by_status(Status.PENDING)
        if m.batch_id is not None and m.batch_id != m.id
    }
    moved = 0
    for batch_id in sorted(behind):
        lead = await ap.store.get(batch_id)
        if lead is None or lead.status == Status.PENDING:
            continue
        if (lead.decided_at or lead.updated_at) > cutoff:
            continue  # its decider may still be at work, here or on another replica
        moved += await follow(ap, lead, SYSTEM, lead_claimed=False)
    return moved


# ---- telling people ------------------------------------------------------------------------


async def show(ap: Approvals, batch_id: str) -> None:
    members = await ap.store.list_batch(batch_id)
    if not members:
        return
    lead = lead_of(members)
    if lead.card_channel and lead.card_ts:
        card = batch_card(members, await skipped_of(ap, lead.id))
        await ap.notifier.update_card(lead.card_channel, lead.card_ts, card)
    ap._changed(lead)  # App Home: a bulk invite is shown by its lead


async def tell_requester(ap: Approvals, batch_id: str) -> None:
    """One note once the whole batch is settled (none pending or working)."""
    members = await ap.store.list_batch(batch_id)
    if not members or any(m.status in _UNSETTLED for m in members):
        return
    lead = lead_of(members)
    await ap.notifier.tell_user(lead.requester, lead.origin_channel, batch_outcome_note(members))
