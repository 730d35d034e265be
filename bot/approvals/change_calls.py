"""Run the Chime call of an approved lifecycle change (issue 21), and settle one whose answer was
lost by looking, never by calling again blindly.

One call per approved change: one BatchSuspendUser or BatchUnsuspendUser for all the claimed
requests of one account (a batch is always one account: bot/approvals/change_filing.py), one
LogoutUser, ResetPersonalPIN or UpdateUser per request. A `UserErrors` entry is that address's
failure, with Chime's code and message; an error naming no address it was sent for leaves every
address unknown, and each is then looked up.

What looking shows (`change_done`), from GetUser (botocore's model: User.RegistrationStatus,
User.LicenseType; NotFound when the user is not in the account):
- suspend: Suspended on an EnterpriseLWA account; absent from a Team account (BatchSuspendUser
  removes Team users from the account);
- unsuspend: present and not Suspended;
- license: LicenseType is the one asked for;
- sign out and PIN reset leave nothing GetUser shows: `None`. A sign-out is sent again safely
  (signing out someone signed out changes nothing). A PIN reset whose answer was lost fails, and
  its Retry makes a new PIN, which goes to its owner: the lost one was shown to no one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.approvals.outcome import Outcome, failed
from bot.chime.directory import Directory
from bot.chime.lifecycle import BatchOutcome, PinReset, UserState
from bot.errors import ChimeError, new_error_id
from bot.store import Change, InviteRequest, Status

log = logging.getLogger("chime_bot.approvals")

# The changes GetUser cannot show made: a sign-out and a PIN reset (`change_done` is None).
UNOBSERVABLE = frozenset({Change.LOGOUT, Change.RESET_PIN})

# Delivers a reset PIN to its owner and says where it went, as fields to store with the request
# ({"pin_sent_to": <Slack user ID>} or {"pin_not_sent": <why>}): never the PIN itself.
PinCourier = Callable[[InviteRequest, PinReset], Awaitable[dict[str, str]]]


async def run_change_calls(
    directory: Directory, requests: list[InviteRequest], pins: PinCourier | None
) -> list[Outcome]:
    """The calls of claimed requests of one change kind and one account, one outcome each, in
    order. Never raises for a Chime or bot failure: those fail the request, with a Retry."""
    change = requests[0].change
    if change in (Change.SUSPEND, Change.UNSUSPEND):
        return await _batch(directory, requests)
    return list(await asyncio.gather(*(_single(directory, r, pins) for r in requests)))


def user_id_of(request: InviteRequest) -> str:
    return request.params.get("user_id", "")


async def _batch(directory: Directory, requests: list[InviteRequest]) -> list[Outcome]:
    account = requests[0].account
    ids = [user_id_of(r) for r in requests]
    send = (
        directory.suspend_users
        if requests[0].change == Change.SUSPEND
        else directory.unsuspend_users
    )
    try:
        outcome: BatchOutcome | None = await send(account, ids)
    except ChimeError as exc:
        if not getattr(exc, "effect_unknown", False):
            return [failed(exc, [r]) for r in requests]
        outcome = None  # the answer was lost: every address is looked up
    except Exception as exc:
        status, fields = failed(exc, requests)
        return [(status, dict(fields)) for _ in requests]
    if outcome is None:
        return list(await asyncio.gather(*(_looked(directory, r) for r in requests)))
    refused, done = outcome.failed, set(outcome.done)
    results: list[Outcome] = []
    for request in requests:
        user_id = user_id_of(request)
        if user_id in refused:
            error = refused[user_id].problem(_operation(request))
            results.append((Status.FAILED, {"error": error.message}))
        elif user_id in done:
            results.append((Status.APPROVED, {"result": {"user_id": user_id}}))
        else:
            results.append(await _looked(directory, request))
    return results


async def _single(directory: Directory, request: InviteRequest, pins: PinCourier | None) -> Outcome:
    account, user_id = request.account, user_id_of(request)
    try:
        if request.change == Change.LOGOUT:
            await directory.logout_user(account, user_id)
            return Status.APPROVED, {"result": {"user_id": user_id}}
        if request.change == Change.LICENSE:
            user = await directory.update_license(account, user_id, request.params["license"])
            return Status.APPROVED, {
                "result": {"user_id": user_id, "license": user.license_type or ""}
            }
        if request.change == Change.RESET_PIN:
            reset = await directory.reset_personal_pin(account, user_id)
            where = await _deliver(pins, request, reset)
            return Status.APPROVED, {"result": {"user_id": user_id, **where}}
    except ChimeError as exc:
        if getattr(exc, "effect_unknown", False) and request.change == Change.LICENSE:
            return await _looked(directory, request)
        return failed(exc, [request])
    except Exception as exc:
        return failed(exc, [request])
    return Status.FAILED, {"error": f"the bot cannot run a {request.change} change"}


async def _deliver(
    pins: PinCourier | None, request: InviteRequest, reset: PinReset
) -> dict[str, str]:
    """Hand the PIN to its owner; the reset took effect whatever happens here, so a failure to
    deliver is said, never raised (the request is approved: Chime made the PIN)."""
    if pins is None:
        return {"pin_not_sent": "the bot has no way to reach Slack users"}
    try:
        return await pins(request, reset)
    except Exception as exc:
        # Only the exception's type is logged: a Slack error may quote what was being sent.
        error_id = new_error_id()
        log.error(
            "could not deliver a reset PIN for %s (%s, error %s)",
            request.id,
            type(exc).__name__,
            error_id,
            extra={"request_id": request.id, "error_id": error_id},
        )
        return {"pin_not_sent": f"the direct message could not be sent (error ID {error_id})"}


async def _looked(directory: Directory, request: InviteRequest) -> Outcome:
    """The outcome of a change whose answer was lost, from what Chime shows now."""
    op = _operation(request)
    try:
        done = await change_done(directory, request)
    except ChimeError as exc:
        return Status.FAILED, {
            "error": f"Amazon Chime's answer to {op} was lost, and the bot could not look "
            f"the user up to see whether it took effect ({exc.message}). Retry looks first."
        }
    if done:
        return Status.APPROVED, {"result": {"user_id": user_id_of(request), "confirmed": "lookup"}}
    return Status.FAILED, {
        "error": f"Amazon Chime's answer to {op} was lost, and looking the user up shows it did "
        "not take effect. Retry runs it again."
    }


async def change_done(directory: Directory, request: InviteRequest) -> bool | None:
    """Whether Chime shows the change made (None: Chime cannot show it). ChimeError: Chime
    could not be asked."""
    if request.change in UNOBSERVABLE:
        return None
    state: UserState = await directory.user_state(request.account, user_id_of(request))
    if request.change == Change.SUSPEND:
        return state.absent if request.account.is_team else state.suspended
    if request.change == Change.UNSUSPEND:
        return not state.absent and not state.suspended
    if request.change == Change.LICENSE:
        return state.license_type == request.params.get("license")
    return None


def _operation(request: InviteRequest) -> str:
    return {
        Change.SUSPEND: "BatchSuspendUser",
        Change.UNSUSPEND: "BatchUnsuspendUser",
        Change.LOGOUT: "LogoutUser",
        Change.RESET_PIN: "ResetPersonalPIN",
        Change.LICENSE: "UpdateUser",
    }.get(request.change, "the call")
