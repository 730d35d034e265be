"""Block Kit for a single request's approval card, in each of its states, and the words every
view of a request shares: its status word, who approved, the approvals so far, what Chime said,
mentions of Slack-issued IDs, and the card's buttons (the App Home tab and a bulk invite's card
reuse them). Built on the primitives in `bot.cards.base`: every email, reason, account name,
Chime ID and error is plain text (`says`, `plain`, `fields`), and mrkdwn (`section`, `context`
strings) holds only fixed wording, mentions of Slack-issued IDs and dates.

The notes sent to requesters and approvers, in the same words, are in `bot.cards.notes`."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from bot.cards.access import access_line, extension_line
from bot.cards.base import (
    Block,
    Reply,
    clean,
    context,
    epoch_date,
    fields,
    header,
    literal,
    plain,
    says,
    section,
    shorten,
)
from bot.cards.changes import change_result, operation_fields, wording
from bot.slack.ids import CHANNEL_ID, USER_ID
from bot.slack.limits import MAX_BUTTON_TEXT, MAX_CONFIRM_TEXT
from bot.store.model import SYSTEM, Change, InviteRequest, Status


class ActionId(StrEnum):
    """Every interactive element's action_id. Buttons carry only the request ID as their value."""

    APPROVE = "chime_approve"
    DENY = "chime_deny"
    RETRY = "chime_retry"


class BlockId(StrEnum):
    """The block_ids of the approval card's button rows."""

    DECISION = "decision"
    RETRY = "retry"


def user_ref(user_id: str | None) -> str:
    """A mention for a Slack-issued user ID; anything else is never echoed into mrkdwn. The
    bot itself (`system`: it files and runs offboarding suspensions) is named as the bot."""
    if user_id and USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    if user_id == SYSTEM:
        return "chime-bot"
    return "someone"


def channel_ref(channel_id: str | None) -> str:
    if channel_id and CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return "its channel"


def button(
    text: str,
    action: ActionId,
    request_id: str,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action.value,
        "value": request_id,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def approve_confirm(request: InviteRequest, count: int = 1) -> dict[str, Any]:
    """The Approve button's confirm dialog, wherever the button is (the request's card, a bulk
    invite's card, the App Home tab): `count` is how many addresses the click decides (a bulk
    invite's lead decides them all). Slack's confirm object allows a 300-character text (title
    100, buttons 30 each): a long email and account name are shortened in the middle here,
    and shown in full on the card."""
    verb = wording(request).verb
    account = shorten(clean(request.account_name), 80, middle=True)
    title, button = "Approve this request?", "Approve"
    if count > 1:
        title, button = "Approve all of them?", "Approve all"
        text = f"This will {verb} {count} addresses in {account}, each once."
    else:
        email = shorten(clean(request.email), 180, middle=True)
        text = f"This will {verb} {email} in {account}, once."
    if approvals_missing(request) > 1:
        # Not the last approval: say what this click does, and what it does not do yet.
        text = (
            f"Your approval will be {len(request.approvals) + 1} of "
            f"{request.approvals_required}; nothing is done until another approver approves."
        )
    return {
        "title": plain(title, 100),
        "text": plain(text, MAX_CONFIRM_TEXT),
        "confirm": plain(button, 30),
        "deny": plain("Cancel", 30),
    }


def approvals_missing(request: InviteRequest) -> int:
    """How many more approvals a pending request needs (at least the one that claims it)."""
    return max(1, request.approvals_required - len(request.approvals))


def more_approvers(request: InviteRequest) -> str:
    missing = approvals_missing(request)
    return "one more approver" if missing == 1 else f"{missing} more approvers"


def approvals_line(request: InviteRequest) -> str:
    """'1 of 2 approvals, by <@U…>' for a request that needs more than one; mrkdwn, with only
    Slack-issued user IDs mentioned (`user_ref`), so a stored value can never format itself."""
    done = len(request.approvals)
    line = f"*{done} of {request.approvals_required} approvals*"
    if request.approvals:
        line += " · approved by " + _approvers(request)
    return line


def _approvers(request: InviteRequest) -> str:
    return " and ".join(user_ref(a) for a in request.approvals)


def approved_by(request: InviteRequest) -> str:
    """Who approved: both approvers under the two-person rule, else the one who decided (for a
    retried request, the approver who retried it)."""
    if len(request.approvals) > 1:
        return _approvers(request)
    return user_ref(request.decided_by)


def asking(asks: str, reason: str) -> list[Block]:
    """Who asks for what; the reason is the requester's own words: a block of its own, quoted,
    on one line, through the untrusted-text path."""
    if reason:
        return [section(f"{asks}, saying:"), says(f"“{clean(reason)}”")]
    return [section(f"{asks}.")]


def lapsed_blocks(request: InviteRequest, lapsed: Mapping[str, str] | None) -> list[Block]:
    """While a request waits: each earlier approval taken off because its approver lost the
    right since (approver -> why), and that another approver is awaited instead."""
    if request.status != Status.PENDING or not lapsed:
        return []
    return [
        context(
            f":warning: {user_ref(approver)}'s approval no longer counts:",
            plain(why),
            f"waiting for {more_approvers(request)}.",
        )
        for approver, why in lapsed.items()
        if approver not in request.approvals  # approved again since: it counts
    ]


def approval_card(request: InviteRequest, lapsed: Mapping[str, str] | None = None) -> Reply:
    """The card approvers see, in whatever state the request is now; `lapsed`: earlier
    approvals that no longer count, with why (`lapsed_blocks`)."""
    words = wording(request)
    asks = f"{user_ref(request.requester)} {words.asks}"
    blocks: list[Block] = [header(words.title), *asking(asks, request.reason)]
    kind: tuple[str, object] = (
        ("User type", request.user_type)
        if request.change == Change.INVITE
        else ("What happens", f"They are {words.effect}.")
    )
    blocks += fields(
        [
            ("Email", request.email),
            kind,
            ("Account", f"{clean(request.account_name)} ({clean(request.account_type)})"),
            ("Account ID", request.account_id),
        ]
    )
    blocks += [section(line) for line in (access_line(request), extension_line(request)) if line]
    blocks.append(section(f"*Approval runs* `{words.operation}` with"))
    blocks += fields(operation_fields(request))
    blocks.append(
        context(
            "Request",
            plain(request.id),
            f"filed {epoch_date(request.created_at)} in {channel_ref(request.origin_channel)} · "
            f"expires {epoch_date(request.expires_at)}",
        )
    )
    blocks += lapsed_blocks(request, lapsed)
    blocks += state_blocks(request)
    text = (
        f"{status_word(request)}: Chime {words.noun} {literal(request.id)} for "
        f"{literal(request.email)} in {literal(request.account_name)}"
    )
    return Reply(text=text, blocks=blocks)


def status_word(request: InviteRequest) -> str:
    """Where a request stands, in a word or two ("Awaiting approval", "Denied", ...)."""
    if request.status == Status.PENDING and request.approvals:
        return f"Awaiting approval ({len(request.approvals)} of {request.approvals_required})"
    return {
        Status.PENDING: "Awaiting approval",
        Status.APPROVING: "Approved, working",
        Status.APPROVED: "Approved",
        Status.DENIED: "Denied",
        Status.FAILED: "Failed",
        Status.EXPIRED: "Expired",
    }.get(request.status, "Unknown state")


def result_line(request: InviteRequest) -> str:
    """What Chime said, in plain words (plain text: the IDs come from Chime)."""
    said = change_result(request)
    if said is not None:
        return said
    result = request.result or {}
    if result.get("outcome") == "already_exists":
        found = f" (user ID {result['user_id']})" if result.get("user_id") else ""
        return f"The user already existed in Chime{found}; nothing new was created."
    if result.get("confirmed") == "lookup":
        found = f"user {result['user_id']}" if result.get("user_id") else "the user"
        return (
            f"Created {found}. Chime's answer to CreateUser was lost, so the bot looked the "
            "email up: this request created it."
        )
    if "user_id" in result and "invite_status" not in result:
        note = " (confirmed after an interrupted attempt)" if result.get("reconciled") else ""
        return f"Created user {result['user_id']}{note}."
    if "invite_status" in result:
        email_status = result.get("email_status")
        verb = "sent" if email_status in (None, "Sent") else "created"
        if result["invite_status"] == "Accepted":
            verb = "already accepted"  # the person had joined the account: nothing to wait for
        line = f"Invitation {verb}: status {result['invite_status']}"
        if email_status not in (None, "Sent"):
            line += f", but Chime reports its email as {email_status}"
        if result.get("reconciled"):
            line += " (confirmed after an interrupted attempt)"
        return line + (f", invite {result['invite_id']}." if result.get("invite_id") else ".")
    return "Done."


def state_blocks(request: InviteRequest, count: int = 1) -> list[Block]:
    """The blocks of where `request` stands, its buttons included; `count`: how many addresses
    its Approve decides (a bulk invite's lead, listed alone in App Home)."""
    by = user_ref(request.decided_by)
    when = epoch_date(request.decided_at or request.updated_at)
    rid = request.id
    words = wording(request)
    if request.status == Status.PENDING:
        progress: list[Block] = []
        if request.approvals_required > 1:
            more = more_approvers(request).capitalize()
            progress = [
                section(
                    f":busts_in_silhouette: {approvals_line(request)}. {more} needed; "
                    "each approver counts once, and the requester cannot approve."
                )
            ]
        return [
            *progress,
            {
                "type": "actions",
                "block_id": BlockId.DECISION.value,
                "elements": [
                    button(
                        "Approve", ActionId.APPROVE, rid, "primary", approve_confirm(request, count)
                    ),
                    button("Deny", ActionId.DENY, rid, "danger"),
                ],
            },
        ]
    if request.status == Status.APPROVING:
        return [
            section(
                f":hourglass_flowing_sand: *Approved* by {approved_by(request)} {when}; "
                f"running {words.operation} now…"
            )
        ]
    if request.status == Status.APPROVED:
        return [
            section(f":white_check_mark: *Approved* by {approved_by(request)} {when}."),
            says(result_line(request)),
        ]
    if request.status == Status.DENIED:
        first = f" (after an approval by {_approvers(request)})" if request.approvals else ""
        return [section(f":x: *Denied* by {by} {when}{first}. {words.nothing}")]
    if request.status == Status.EXPIRED:
        return [
            section(
                # Its deadline, not when a sweep or a click noticed it had passed.
                f":no_entry: *Expired* {epoch_date(request.expires_at)} with no decision. "
                f"{words.nothing[:-1]}; file a new request if it is still needed."
            )
        ]
    if request.status == Status.FAILED:
        return [
            section(f":warning: *Failed* after approval by {by} {when}. Chime said:"),
            says(request.error or "unknown error"),
            context(f"Approvers can retry; a retry first checks {words.retry_checks}."),
            {
                "type": "actions",
                "block_id": BlockId.RETRY.value,
                "elements": [button("Retry", ActionId.RETRY, rid, "primary")],
            },
        ]
    return []


def action_block(request: InviteRequest, block_id: str, count: int = 1) -> Block | None:
    """The card's own button row for the request's state (Approve and Deny, or Retry), under
    `block_id` (a view lists many requests, and block_ids must be unique in it); None if the
    state has no buttons. `count`: the addresses a bulk invite's lead decides."""
    row = next((b for b in state_blocks(request, count) if b.get("type") == "actions"), None)
    return None if row is None else {**row, "block_id": block_id}
