"""Block Kit for time-bound access (issue 21): the access line every view of a time-bound invite
shows, the requester's note when the access ends, the Extend offer, and `/chime access`.

A period starts when the invite is approved (the user created or invited), so a request not yet
approved says how long ("for 8h from approval") and an approved one gives its end as a date and
time (`epoch_date`, which Slack shows in each reader's own time zone). Emails, account names and
errors are plain text (`says`, `plain`); mrkdwn holds only fixed wording, mentions and dates.
"""

from __future__ import annotations

from enum import StrEnum

from bot.cards.base import (
    Block,
    Reply,
    clean,
    context,
    epoch_date,
    header,
    literal,
    plain,
    says,
    section,
)
from bot.durations import said
from bot.slack.limits import MAX_BUTTON_TEXT
from bot.store.model import Change, InviteRequest, Status

# 2 blocks each, a header and a footer: within Slack's 50 blocks per message.
MAX_LISTED = 20


class AccessAction(StrEnum):
    """The Extend button's action_id; its value is the time-bound invite's request ID."""

    EXTEND = "chime_extend"


def access_line(request: InviteRequest) -> str | None:
    """How long a time-bound invite's access lasts, as the bot's own mrkdwn; None for any
    other request."""
    period = request.access_for
    if period is None:
        return None
    if request.access_ended_at is not None:
        return f"*Access* ended {epoch_date(request.access_ended_at)}"
    if request.access_until is not None:
        return f"*Access* ends {epoch_date(request.access_until)}"
    if request.status in (Status.PENDING, Status.APPROVING, Status.FAILED):
        return f"*Access* for {said(period)} from approval, then the user is suspended"
    return None


def extension_line(request: InviteRequest) -> str | None:
    """An extension's two ends, as the bot's own mrkdwn; None for any other request."""
    if request.change != Change.EXTEND:
        return None
    was, to = _float(request.params.get("from_until")), _float(request.params.get("until"))
    return f"*Access* ends {epoch_date(was)}; approval moves the end to {epoch_date(to)}"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def ended_note(invite: InviteRequest, suspension: InviteRequest | None) -> Reply:
    """The requester's note when the access they asked for has ended; `suspension`: the
    suspension the bot ran (None: Chime had no user to suspend)."""
    email, account = clean(invite.email), clean(invite.account_name)
    ended = epoch_date(invite.access_until)
    if suspension is None:
        detail = "Amazon Chime has no user with this address (an invitation never accepted?), "
        detail += "so there was nothing to suspend."
    elif suspension.status == Status.APPROVED:
        detail = (
            "They were removed from the Team account (they keep a free Chime login; "
            "/chime invite brings them back)."
            if invite.account.is_team
            else "They were suspended and signed out; /chime unsuspend brings them back."
        )
    else:
        why = clean(suspension.error or "unknown error")
        detail = (
            f"The suspension did not go through ({why}). The bot tries again, and after "
            "a few failures puts it before the approvers to retry."
        )
    return Reply(
        text=f"Access ended for {literal(invite.email)}",
        blocks=[
            section(f":hourglass: The time-bound access you asked for ended {ended}."),
            says(f"Request {invite.id}: {email} in {account}. {detail}"),
            context("Suspended by the bot, as the access ended (request", plain(_id(suspension))),
        ],
    )


def _id(request: InviteRequest | None) -> str:
    return f"{request.id})" if request is not None else "none)"


def extend_offer(invite: InviteRequest) -> Reply:
    """The DM before the end: when it comes, and a button to ask for more."""
    period = said(invite.access_for or 0)
    removed = "removed from the Team account" if invite.account.is_team else "suspended"
    button = {
        "type": "button",
        "text": plain(f"Extend by {period}", MAX_BUTTON_TEXT),
        "action_id": AccessAction.EXTEND.value,
        "value": invite.id,
    }
    return Reply(
        text=f"Access for {literal(invite.email)} ends soon",
        blocks=[
            section(
                f":hourglass_flowing_sand: The access you asked for ends "
                f"{epoch_date(invite.access_until)}; then the user is {removed}."
            ),
            says(f"Request {invite.id}: {clean(invite.email)} in {clean(invite.account_name)}."),
            {"type": "actions", "block_id": "extend", "elements": [button]},
            context(f"Extend asks the approvers for {period} more from the current end."),
        ],
    )


def access_list(invites: list[InviteRequest]) -> Reply:
    """`/chime access`: the time-bound users whose access has not ended, soonest end first."""
    if not invites:
        return Reply(
            text="No time-bound access", blocks=[section("No one has time-bound access now.")]
        )
    ordered = sorted(invites, key=lambda r: (r.access_until or 0.0, r.id))
    blocks: list[Block] = [header(f"Time-bound access ({len(ordered)})")]
    for invite in ordered[:MAX_LISTED]:
        blocks.append(says(f"{clean(invite.email)} → {clean(invite.account_name)}"))
        blocks.append(
            context(f"ends {epoch_date(invite.access_until)} · request", plain(invite.id))
        )
    if len(ordered) > MAX_LISTED:
        blocks.append(context(f"…and {len(ordered) - MAX_LISTED} more, ending later."))
    return Reply(text=f"{len(ordered)} users with time-bound access", blocks=blocks)
