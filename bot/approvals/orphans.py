"""Requests no one can see: stored `pending`, but their approval card was never posted.

Filing is two steps: store the request (`RequestStore.file`), then post its card and remember
where (`set_card`). A replica that stops between them (a crash, or a store that stopped
answering: bot/approvals/filing.py reads a lost filing back, but that read can fail too) leaves
a request that blocks its email and counts against its requester's fair-use cap until its
deadline, while no approver can see it and no reminder can be sent (reminders need a card).

The sweep withdraws such a request once it is older than `ORPHAN_GRACE`, with the reason in its
audit trail, and tells its requester. It withdraws rather than posts a late card: its requester
was told the filing failed, or nothing (Slack's own timeout), and a card turning up minutes later
for a request they may already have filed again would be a surprise for everyone; a withdrawal
is one conditional move (`Move.withdraw`), so across replicas exactly one wins it, and only the
winner tells. A bulk invite is judged by its lead, which carries the one card: it is withdrawn
whole, the lead first.
"""

from __future__ import annotations

import logging

from bot.approvals.steps import Steps
from bot.cards.notes import unseen_withdrawn_note
from bot.store import InviteRequest, Move, Status
from bot.store.model import SYSTEM

log = logging.getLogger("chime_bot.approvals")

# How long a filing may take from its store write to its card being remembered, before a
# request without a card counts as cut short. The longest honest filing is one whose store
# answer was lost: the write's own attempts (botocore's 3, each up to 3 s to connect and 10 s
# to read, ~45 s), the read back (as long again), the card's post (Slack's 30 s timeout) and
# `set_card` (~45 s): under 3 minutes. Five leave room, and a request blocked that long is
# still a small price next to its 24 h deadline. A filer slower still finds its request
# withdrawn when it remembers the card, and shows that on the card (filing.py).
ORPHAN_GRACE = 300.0
UNSEEN = "filing was cut short before its approval card was posted, so no approver could see it"


async def withdraw_unseen(steps: Steps, grace: float = ORPHAN_GRACE) -> int:
    """Withdraw the pending requests (a bulk invite: whole) whose card was never posted and
    that were filed more than `grace` seconds ago, and tell their requesters; returns how many
    filings this call withdrew."""
    now = steps.clock.now()
    # A suspension the access sweep filed has no card by design: that sweep runs it
    # (bot/approvals/access.py, run_left).
    pending = [
        r for r in await steps.store.list_by_status(Status.PENDING) if not _access_suspension(r)
    ]
    by_id = {r.id: r for r in pending}
    withdrawn = 0
    for key in sorted({r.counts_as for r in pending if not r.card_ts}):
        lead = by_id.get(key)
        if lead is None or lead.card_ts or lead.created_at > now - grace:
            # A lead that is not pending has been decided or withdrawn: its batch follows it
            # (batches.follow_leads). One with a card shows its whole batch.
            continue
        if await _withdraw(steps, lead, Move.withdraw(SYSTEM, now, UNSEEN)):
            withdrawn += 1
    return withdrawn


def _access_suspension(request: InviteRequest) -> bool:
    return request.requester == SYSTEM and "access_of" in request.params


async def _withdraw(steps: Steps, lead: InviteRequest, move: Move) -> bool:
    # The lead first: its one conditional write decides which replica withdraws and tells.
    won = await steps.store.transition(lead.id, move)
    if not won.ok or won.request is None:
        return False  # moved meanwhile: by another replica's sweep, or a late card and a click
    others: list[InviteRequest] = []
    if lead.batch_id is not None:
        batch = await steps.store.list_batch(lead.id)
        waiting = [m for m in batch if m.status == Status.PENDING and m.id != lead.id]
        others = await steps.move_each(waiting, move)
    log.warning(
        "withdrew %s: %s",
        lead.id,
        UNSEEN,
        extra={"request_id": lead.id, "outcome": "withdrawn"},
    )
    steps.changed(won.request)
    note = unseen_withdrawn_note(won.request, addresses=1 + len(others))
    await steps.notifier.tell_user(lead.requester, lead.origin_channel, note)
    return True
