"""Run the one Chime call an approved request stands for (or the calls of a bulk invite), and
read Chime's answer truthfully.

Team accounts get InviteUsers, judged by each invite's Status and EmailStatus; Enterprise
accounts get CreateUser through `create_once`, which never repeats a call whose effect is
unknown. The callers (bot/approvals/decision.py, bot/approvals/batches.py) own the claim, and
`Steps.finish` (bot/approvals/steps.py) the state change after the call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.approvals.change_calls import PinCourier, run_change_calls
from bot.approvals.outcome import failed
from bot.chime.create_once import create_once
from bot.chime.directory import Directory
from bot.models import InviteResult, UserType
from bot.store import Change, InviteRequest, Status

log = logging.getLogger("chime_bot.approvals")


async def run_chime_call(
    directory: Directory, request: InviteRequest, pins: PinCourier | None = None
) -> tuple[Status, dict[str, Any]]:
    """The one Chime call of a claimed request, and what it means: the status the request moves
    to and the fields to store with it. Never raises for a Chime or bot failure: those fail the
    request, so the card can offer Retry."""
    return (await run_batch_call(directory, [request], pins))[0]


async def run_batch_call(
    directory: Directory, requests: list[InviteRequest], pins: PinCourier | None = None
) -> list[tuple[Status, dict[str, Any]]]:
    """The Chime calls of claimed requests of one account and user type (a bulk invite's, or a
    single one), one outcome per request, in order: one InviteUsers for all of them on a Team
    account (at most 50: the model's UserEmailList max), CreateUser per request on an
    Enterprise account, all at once (the Directory's limit bounds the calls in flight)."""
    account = requests[0].account
    try:
        # The account may have been suspended since the request was filed.
        current = await directory.account_by_id(account.account_id, patient=True)
        if current is not None and current.is_suspended:
            suspended = {
                "error": f"the Amazon Chime account {account.name} is suspended, so no one "
                "was added; Retry once it is active again"
            }
            return [(Status.FAILED, dict(suspended)) for _ in requests]
        if requests[0].change != Change.INVITE:
            return await run_change_calls(directory, requests, pins)
        if account.is_team:
            user_type = UserType(requests[0].user_type)
            invites = await directory.invite_users(account, [r.email for r in requests], user_type)
            return [invite_outcome(invites[r.email.lower()]) for r in requests]
    except Exception as exc:
        status, fields = failed(exc, requests)
        return [(status, dict(fields)) for _ in requests]
    return list(await asyncio.gather(*(_create(directory, r) for r in requests)))


async def _create(directory: Directory, request: InviteRequest) -> tuple[Status, dict[str, Any]]:
    try:
        # The request's first CreateUser is the one in its first execution; after a Retry,
        # an earlier attempt may have created the user, so a conflict proves nothing.
        created = await create_once(
            directory,
            request.account,
            request.email,
            UserType(request.user_type),
            first_attempt=request.attempts <= 1,
        )
    except Exception as exc:
        return failed(exc, [request])
    result = {} if created.user is None else {"user_id": created.user.user_id}
    if created.existed:
        result["outcome"] = "already_exists"
    elif created.confirmed:
        result["confirmed"] = "lookup"
    return Status.APPROVED, {"result": result}


def invite_outcome(invite: InviteResult) -> tuple[Status, dict[str, Any]]:
    """What one Invite from InviteUsers means for its request: the status and stored fields."""
    failure = invite_failure(invite)
    if failure is not None:
        return Status.FAILED, {"error": failure}
    result = {"invite_status": invite.status or "Pending", "invite_id": invite.invite_id}
    if invite.email_status:
        result["email_status"] = invite.email_status
    return Status.APPROVED, {"result": result}


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
