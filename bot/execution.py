"""Run the one Chime call an approved request stands for, and read Chime's answer truthfully.

Team accounts get InviteUsers, judged by each invite's Status and EmailStatus; Enterprise
accounts get CreateUser through `create_once`, which never repeats a call whose effect is
unknown. The caller (bot/approvals.py) owns the claim and the state change around this call.
"""

from __future__ import annotations

import logging

from bot.chime import Directory
from bot.create_once import create_once
from bot.errors import BotError, new_error_id
from bot.models import InviteResult, UserType
from bot.store import InviteRequest, Status

log = logging.getLogger("chime_bot.approvals")


async def run_chime_call(
    directory: Directory, request: InviteRequest
) -> tuple[Status, dict[str, object]]:
    """The one Chime call of a claimed request, and what it means: the status the request moves
    to and the fields to store with it. Never raises for a Chime or bot failure: those fail the
    request, so the card can offer Retry."""
    account = request.account
    user_type = UserType(request.user_type)
    try:
        # The account may have been suspended since the request was filed.
        current = await directory.account_by_id(account.account_id)
        if current is not None and current.is_suspended:
            return Status.FAILED, {
                "error": f"the Amazon Chime account {account.name} is suspended, so no one "
                "was added; Retry once it is active again"
            }
        if account.is_team:
            invite = await directory.invite_user(account, request.email, user_type)
            failure = invite_failure(invite)
            if failure is not None:
                return Status.FAILED, {"error": failure}
            result = {
                "invite_status": invite.status or "Pending",
                "invite_id": invite.invite_id,
            }
            if invite.email_status:
                result["email_status"] = invite.email_status
            return Status.APPROVED, {"result": result}
        # The request's first CreateUser is the one in its first execution; after a Retry,
        # an earlier attempt may have created the user, so a conflict proves nothing.
        created = await create_once(
            directory,
            account,
            request.email,
            user_type,
            first_attempt=request.attempts <= 1,
        )
        result = {} if created.user is None else {"user_id": created.user.user_id}
        if created.existed:
            result["outcome"] = "already_exists"
        elif created.confirmed:
            result["confirmed"] = "lookup"
        return Status.APPROVED, {"result": result}
    except BotError as exc:
        return Status.FAILED, {"error": exc.message}
    except Exception:
        error_id = new_error_id()
        log.exception(
            "unexpected error %s executing %s",
            error_id,
            request.id,
            extra={"request_id": request.id, "error_id": error_id},
        )
        return Status.FAILED, {"error": f"unexpected error (ID {error_id})"}


def invite_failure(invite: InviteResult) -> str | None:
    """Why an invitation did not go out, in Chime's own terms, or None if it did.

    The model (Invite) gives only Status (Pending|Accepted|Failed) and EmailStatus
    (NotSent|Sent|Failed), no reason: the statuses are all Chime says.
    """
    if invite.status is None and not invite.invite_id:
        return "the invitation failed: Amazon Chime returned no invitation for this address"
    if invite.status == "Failed":
        return (
            f"the invitation failed: Amazon Chime reports invitation status Failed "
            f"(email status {invite.email_status or 'not given'})"
        )
    if invite.email_status == "Failed":
        return (
            f"the invitation failed: Amazon Chime could not send the invitation email "
            f"(invitation status {invite.status or 'not given'}, email status Failed)"
        )
    return None
