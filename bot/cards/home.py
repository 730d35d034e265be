"""The App Home tab's view: pure rendering from what the store says now.

Two parts, each shown only to whom it concerns:
- "Waiting for your decision": the requests this person may decide now (pending, and failed
  ones they may retry), each with the very buttons of its approval card, so a click here counts
  like a click on the card (bot/approvals/home_surface.py). Under the two-person rule, a request
  they have already approved is listed apart, without buttons, as waiting for another approver.
- "Your requests": the person's most recent requests and where each stands.

Everything from a user or from Chime goes through `bot.cards.base` (`says`, `plain`): plain text,
literally. Slack allows 100 blocks in a Home tab view (docs.slack.dev/reference/views/
home-tab-views); the budget below keeps within it whatever the numbers, and says "and N more".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.cards.approval import (
    action_block,
    approvals_line,
    more_approvers,
    status_word,
    user_ref,
)
from bot.cards.base import (
    Block,
    Reply,
    clean,
    context,
    epoch_date,
    header,
    says,
    section,
    shorten,
)
from bot.cards.changes import ran_unapproved, what_is_asked
from bot.slack.limits import MAX_HOME_BLOCKS
from bot.store.model import SYSTEM, Change, InviteRequest, Status

CALLBACK_ID = "chime_home"
MAX_DECIDABLE = 15  # 3 blocks each (summary, who and when, buttons)
MAX_RECENT = 20  # 2 blocks each (summary, where it stands)
MAX_NOTICE = 3  # blocks of a private note shown at the top (a refused click's reason)
MAX_REASON = 200  # the reason, as far as a list line shows it; the card shows it whole
# Chime's error, likewise. With these, a full tab stays far below views.publish's 250 kB.
MAX_ERROR = 500


def home_view(
    user: str,
    *,
    decidable: Sequence[InviteRequest],
    recent: Sequence[InviteRequest],
    now: float,
    notice: Reply | None = None,
    batch_sizes: Mapping[str, int] | None = None,
    approved: Sequence[InviteRequest] = (),
) -> dict[str, Any]:
    """The Home tab of `user`. `decidable`: what they may decide now, oldest first; `recent`:
    their own requests, newest first; `approved`: requests they have approved that wait for
    another approver (the two-person rule), oldest first. `private_metadata` names the user it
    was published for: Slack echoes it in every click from this view, and only that user sees
    it."""
    blocks: list[Block] = [header("Amazon Chime requests")]
    if notice is not None:
        blocks += notice.blocks[:MAX_NOTICE]
    blocks += _decidable(decidable, batch_sizes or {})
    # Within the same budget: a tab lists at most MAX_DECIDABLE requests above the divider.
    blocks += _approved(approved[: max(0, MAX_DECIDABLE - len(decidable))], len(approved))
    blocks.append({"type": "divider"})
    blocks += _recent(recent)
    blocks.append(context(f"Updated {epoch_date(now)}. Opening this tab again shows the latest."))
    assert len(blocks) <= MAX_HOME_BLOCKS, len(blocks)  # the budgets above guarantee it
    return {
        "type": "home",
        "callback_id": CALLBACK_ID,
        "private_metadata": user,
        "blocks": blocks,
    }


def _decidable(requests: Sequence[InviteRequest], batch_sizes: Mapping[str, int]) -> list[Block]:
    if not requests:  # true for anyone: it says nothing of who may approve
        return [section("Nothing is waiting for your decision.")]
    blocks: list[Block] = [header(f"Waiting for your decision ({len(requests)})")]
    for request in requests[:MAX_DECIDABLE]:
        reason = f" “{shorten(clean(request.reason), MAX_REASON)}”" if request.reason else ""
        # A bulk invite is listed by its lead, and its buttons decide every address in it.
        others = batch_sizes.get(request.id, 1) - 1
        who = clean(request.email) + (
            f" and {others} more address{'es' if others != 1 else ''} "
            f"({'bulk invite' if request.change == Change.INVITE else 'one request'}: its card "
            "lists them all; these buttons decide them together)"
            if others > 0
            else ""
        )
        summary = (
            f"{request.id}  {clean(what_is_asked(request))}: {who} → "
            f"{clean(request.account_name)}{reason}"
        )
        if request.status == Status.FAILED:
            said = shorten(clean(request.error or "unknown error"), MAX_ERROR)
            blocks.append(says(summary, f"Chime said: {said}"))
        else:
            blocks.append(says(summary))
        state = status_word(request).lower()
        blocks.append(
            context(
                f"{state} · from {user_ref(request.requester)} {epoch_date(request.created_at)} · "
                f"expires {epoch_date(request.expires_at)}"
            )
        )
        # The same confirm dialog as its card's: a bulk invite's names every address.
        row = action_block(request, f"home:{request.id}", others + 1)
        if row is not None:
            blocks.append(row)
    if len(requests) > MAX_DECIDABLE:
        more = len(requests) - MAX_DECIDABLE
        blocks.append(context(f"…and {more} more, oldest first: `/chime pending` lists them."))
    return blocks


def _approved(shown: Sequence[InviteRequest], total: int) -> list[Block]:
    """What this person approved that waits for someone else: no buttons, since their own
    approval is in and another click of theirs would not count."""
    if not total:
        return []
    blocks: list[Block] = [header(f"Waiting for another approver ({total})")]
    for request in shown:
        blocks.append(says(_line(request)))
        blocks.append(
            context(
                f"{approvals_line(request)} · you approved; waiting for "
                f"{more_approvers(request)} · from {user_ref(request.requester)} "
                f"{epoch_date(request.created_at)} · expires {epoch_date(request.expires_at)}"
            )
        )
    if total > len(shown):
        blocks.append(context(f"…and {total - len(shown)} more: `/chime pending` lists them."))
    return blocks


def _recent(requests: Sequence[InviteRequest]) -> list[Block]:
    if not requests:
        return [
            header("Your requests"),
            section(
                "You have no Chime user requests. File one with `/chime invite &lt;email&gt;`."
            ),
        ]
    blocks: list[Block] = [header(f"Your {min(len(requests), MAX_RECENT)} latest requests")]
    for request in requests[:MAX_RECENT]:
        blocks.append(says(_line(request)))
        blocks.append(context(_where_it_stands(request)))
    return blocks


def _line(request: InviteRequest) -> str:
    return (
        f"{request.id}  {clean(what_is_asked(request))}: {clean(request.email)} → "
        f"{clean(request.account_name)}"
    )


def _where_it_stands(request: InviteRequest) -> str:
    word = f"*{status_word(request)}*"
    filed = f"filed {epoch_date(request.created_at)}"
    if request.status == Status.PENDING:
        return f"{word} · {filed} · expires {epoch_date(request.expires_at)}"
    if request.status == Status.EXPIRED:  # at its deadline, whenever a sweep noticed
        return f"{word} {epoch_date(request.expires_at)} · {filed}"
    if request.status == Status.DENIED and request.decided_by == SYSTEM:
        # Withdrawn by the bot itself: its approval card could not be posted
        # (`Steps.not_posted`, bot/approvals/steps.py).
        return f"*Not filed*: its approval card could not be posted · {filed}"
    decided = epoch_date(request.decided_at or request.updated_at)
    if ran_unapproved(request):
        return f"{word}, with no approval needed, {decided} · {filed}"
    return f"{word} by {user_ref(request.decided_by)} {decided} · {filed}"
