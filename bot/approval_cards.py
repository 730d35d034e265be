"""Block Kit for the invite flow: the approval card in each of its states, and the notes sent to
requesters and approvers. Built on the primitives (and the one `escape`) in `bot.cards`."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.cards import Block, Reply, context, escape, fields, header, section, slack_date
from bot.settings import CHANNEL_ID, USER_ID
from bot.store.model import InviteRequest, Status

MAX_LISTED = 20


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
    """A mention for a Slack-issued user ID; anything else is shown as escaped text."""
    if user_id and USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return escape(user_id or "someone")


def channel_ref(channel_id: str | None) -> str:
    if channel_id and CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return escape(channel_id or "a channel")


def _date(epoch: float | None) -> str:
    return slack_date(datetime.fromtimestamp(epoch, UTC) if epoch else None)


def operation_line(request: InviteRequest) -> str:
    if request.account.is_team:
        return (
            f"`InviteUsers` (AccountId `{escape(request.account_id)}`, "
            f"UserEmailList [{escape(request.email)}], UserType {escape(request.user_type)})"
        )
    return (
        f"`CreateUser` (AccountId `{escape(request.account_id)}`, "
        f"Email {escape(request.email)}, UserType {escape(request.user_type)})"
    )


def _button(
    text: str,
    action: ActionId,
    request_id: str,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": request_id,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(request: InviteRequest) -> dict[str, Any]:
    verb = "invite" if request.account.is_team else "create"
    return {
        "title": {"type": "plain_text", "text": "Approve this request?"},
        "text": {
            "type": "mrkdwn",
            "text": f"This will {verb} {escape(request.email)} in "
            f"{escape(request.account_name)}, once.",
        },
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def approval_card(request: InviteRequest) -> Reply:
    """The card approvers see, in whatever state the request is now."""
    blocks: list[Block] = [
        header("Amazon Chime user request"),
        section(
            f"{user_ref(request.requester)} asks for a new Amazon Chime user"
            + (f":\n>{escape(request.reason)}" if request.reason else ".")
        ),
        fields(
            [
                ("Email", escape(request.email)),
                ("User type", escape(request.user_type)),
                ("Account", f"{escape(request.account_name)} ({escape(request.account_type)})"),
                ("Account ID", f"`{escape(request.account_id)}`"),
            ]
        ),
        section(f"*Approval runs* {operation_line(request)}"),
        context(
            f"Request `{escape(request.id)}` · filed {_date(request.created_at)} in "
            f"{channel_ref(request.origin_channel)} · expires {_date(request.expires_at)}"
        ),
    ]
    blocks += _state_blocks(request)
    text = (
        f"{_status_word(request)}: Chime user request {escape(request.id)} for "
        f"{escape(request.email)} in {escape(request.account_name)}"
    )
    return Reply(text=text, blocks=blocks)


def _status_word(request: InviteRequest) -> str:
    return {
        Status.PENDING: "Awaiting approval",
        Status.APPROVING: "Approved, working",
        Status.APPROVED: "Approved",
        Status.DENIED: "Denied",
        Status.FAILED: "Failed",
        Status.EXPIRED: "Expired",
    }.get(request.status, str(request.status))


def result_line(request: InviteRequest) -> str:
    result = request.result or {}
    if result.get("outcome") == "already_exists":
        found = f" (user ID `{escape(result['user_id'])}`)" if result.get("user_id") else ""
        return f"The user already existed in Chime{found}; nothing new was created."
    if result.get("confirmed") == "lookup":
        found = f"user `{escape(result['user_id'])}`" if result.get("user_id") else "the user"
        return (
            f"Created {found}. Chime's answer to CreateUser was lost, so the bot looked the "
            "email up: this request created it."
        )
    if "user_id" in result and "invite_status" not in result:
        note = " (confirmed after an interrupted attempt)" if result.get("reconciled") else ""
        return f"Created user `{escape(result['user_id'])}`{note}."
    if "invite_status" in result:
        email_status = result.get("email_status")
        verb = "sent" if email_status in (None, "Sent") else "created"
        if result["invite_status"] == "Accepted":
            verb = "already accepted"  # the person had joined the account: nothing to wait for
        line = f"Invitation {verb}: status {escape(result['invite_status'])}"
        if email_status not in (None, "Sent"):
            line += f", but Chime reports its email as {escape(email_status)}"
        if result.get("reconciled"):
            line += " (confirmed after an interrupted attempt)"
        return line + (
            f", invite `{escape(result['invite_id'])}`." if result.get("invite_id") else "."
        )
    return "Done."


def _state_blocks(request: InviteRequest) -> list[Block]:
    by = user_ref(request.decided_by)
    when = _date(request.decided_at or request.updated_at)
    rid = request.id
    if request.status == Status.PENDING:
        return [
            {
                "type": "actions",
                "block_id": BlockId.DECISION.value,
                "elements": [
                    _button("Approve", ActionId.APPROVE, rid, "primary", _confirm(request)),
                    _button("Deny", ActionId.DENY, rid, "danger"),
                ],
            }
        ]
    if request.status == Status.APPROVING:
        return [
            section(
                f":hourglass_flowing_sand: *Approved* by {by} {when}; "
                f"running {request.account.create_operation} now…"
            )
        ]
    if request.status == Status.APPROVED:
        return [section(f":white_check_mark: *Approved* by {by} {when}. {result_line(request)}")]
    if request.status == Status.DENIED:
        return [section(f":x: *Denied* by {by} {when}. Nothing was created.")]
    if request.status == Status.EXPIRED:
        return [
            section(
                f":no_entry: *Expired* {_date(request.updated_at)} with no decision. "
                "Nothing was created; file a new request if it is still needed."
            )
        ]
    if request.status == Status.FAILED:
        return [
            section(
                f":warning: *Failed* after approval by {by} {when}: "
                f"{escape(request.error or 'unknown error')}\nApprovers can retry; "
                "a retry first checks whether the user was created after all."
            ),
            {
                "type": "actions",
                "block_id": BlockId.RETRY.value,
                "elements": [_button("Retry", ActionId.RETRY, rid, "primary")],
            },
        ]
    return []


def filed_note(request: InviteRequest, where: str) -> Reply:
    return Reply(
        text=f"Request {escape(request.id)} for {escape(request.email)} awaits approval",
        blocks=[
            section(
                f":hourglass_flowing_sand: Request `{escape(request.id)}` to add "
                f"*{escape(request.email)}* to {escape(request.account_name)} awaits "
                f"approval in {channel_ref(where)}."
            ),
            context("You'll get a direct message when an approver decides."),
        ],
    )


def duplicate_note(existing: InviteRequest) -> Reply:
    where = channel_ref(existing.card_channel or existing.origin_channel)
    return Reply(
        text=f"{escape(existing.email)} already has an open request {escape(existing.id)}",
        blocks=[
            section(
                f":information_source: {escape(existing.email)} already has an open "
                f"request `{escape(existing.id)}` for {escape(existing.account_name)}, "
                f"filed by {user_ref(existing.requester)} "
                f"{_date(existing.created_at)} ({escape(existing.status)}), in {where}. "
                "Nothing new was filed."
            )
        ],
    )


def exists_note(email: str, account_names: list[str]) -> Reply:
    names = ", ".join(escape(n) for n in account_names)
    return Reply(
        text=f"{escape(email)} already exists in {names}",
        blocks=[
            section(
                f":information_source: *{escape(email)}* already exists in {names}. "
                "Nothing was filed."
            ),
            context(f"See the details with `/chime user {escape(email)}`"),
        ],
    )


def outcome_note(request: InviteRequest) -> Reply:
    """What the requester is told when their request is decided or finished."""
    word = _status_word(request)
    lines = {
        Status.APPROVED: f"was approved by {user_ref(request.decided_by)}. {result_line(request)}",
        Status.DENIED: f"was denied by {user_ref(request.decided_by)}.",
        Status.FAILED: f"was approved, but it did not go through: "
        f"{escape(request.error or 'unknown error')}. Approvers can retry it.",
        Status.EXPIRED: "expired without a decision. File a new one if it is still needed.",
    }
    detail = lines.get(request.status, f"is now {escape(request.status)}.")
    return Reply(
        text=f"{word}: your Chime request for {escape(request.email)}",
        blocks=[
            section(
                f"Your request `{escape(request.id)}` to add *{escape(request.email)}* "
                f"to {escape(request.account_name)} {detail}"
            )
        ],
    )


def decided_already_note(request: InviteRequest) -> Reply:
    who = user_ref(request.decided_by) if request.decided_by else "nobody"
    state = _status_word(request).lower()
    return Reply(
        text=f"Request {escape(request.id)} is already {state}",
        blocks=[
            section(
                f"Request `{escape(request.id)}` was already decided: {state} by {who} "
                f"{_date(request.decided_at or request.updated_at)}. Nothing changed."
            )
        ],
    )


def pending_list(requests: list[InviteRequest], now: float) -> Reply:
    if not requests:
        return Reply(
            text="No open Chime requests", blocks=[section(":tada: No open Chime requests.")]
        )
    blocks: list[Block] = [header(f"Open Chime requests ({len(requests)})")]
    for request in requests[:MAX_LISTED]:
        where = f" · card in {channel_ref(request.card_channel)}" if request.card_channel else ""
        blocks.append(
            section(
                f"`{escape(request.id)}` *{escape(request.email)}* → "
                f"{escape(request.account_name)} · {escape(_status_word(request).lower())}\n"
                f"from {user_ref(request.requester)} {_age(now - request.created_at)} ago{where}"
            )
        )
    if len(requests) > MAX_LISTED:
        blocks.append(context(f"…and {len(requests) - MAX_LISTED} more, oldest first."))
    return Reply(text=f"{len(requests)} open Chime requests", blocks=blocks)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
