"""The request form: opened by `/chime invite` alone or the global shortcut, and submitted.

Opening: Slack gives a trigger 3 seconds, so the ack goes first and `views.open` follows at
once with a view that needs nothing from Chime; the accounts are loaded after that and shown
with `views.update` (with the hash from the open, so a later change is never overwritten).

Submitting: Slack wants the answer within 3 seconds, and only that answer can show errors in
the form. So everything that needs no Chime call is checked in it, and whether the chosen
account may still be requested for is checked too when the account list comes within
`SUBMIT_WAIT` (it is normally cached from opening the form). What takes longer (the exists
check, filing) runs after the ack, through the same path as the slash command, and the outcome
reaches the requester by DM (or, failing that, an ephemeral note in the request's channel).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.cards.base import Reply, error_card
from bot.cards.errors import reply_for
from bot.cards.form import (
    Field,
    Origin,
    Sealer,
    access_problem,
    form_view,
    loading_view,
    message_view,
    read_submission,
    requestable_accounts,
    requestable_anywhere,
)
from bot.deps import Deps
from bot.models import Account
from bot.slack.commands import Invite, InviteForm
from bot.slack.membership import MembershipUnknown, is_member
from handlers.context import BUSY, Ack, Invocation, reply_now
from handlers.invite import file_request

log = logging.getLogger("chime_bot.form")

# How long a submission's answer may wait for the account list before it is checked after the
# ack instead: well inside Slack's 3 s, with room for the round trip.
SUBMIT_WAIT = 1.5
Tell = Callable[[Reply], Awaitable[object]]
T = TypeVar("T")
# views.open's trigger errors (docs.slack.dev/reference/methods/views.open), in plain words.
TRIGGER_ERRORS = {
    "expired_trigger_id": "Slack gives the bot 3 seconds to open a form, and that passed",
    "exchanged_trigger_id": "That request already opened a form",
    "invalid_trigger_id": "Slack did not recognise the request to open it",
}
BUSY_NOW = "The bot is busy right now; nothing was filed. Try again in a few seconds."


def sealer(deps: Deps) -> Sealer:
    secret = deps.settings.slack_signing_secret
    return Sealer(secret.get_secret_value() if secret else "")


async def from_command(cmd: InviteForm, inv: Invocation, deps: Deps) -> None:
    """`/chime invite` alone, in a channel already allowed: ack, then open the form."""
    del cmd

    async def tell(reply: Reply) -> None:
        await deps.responder.send(inv.response_url, reply)

    work = open_form(deps, inv.trigger_id, Origin(inv.user_id, inv.channel_id), tell)
    if deps.jobs.spawn(work, name=f"form:{inv.command_id}"):
        await inv.ack()
        inv.log_done(deps, "form")
    else:
        await reply_now(inv, deps, BUSY, "busy")


async def on_shortcut(deps: Deps, ack: Ack, body: dict[str, Any]) -> None:
    """The global shortcut: no channel and no response_url, so a failure is told by DM."""
    user = str((body.get("user") or {}).get("id", ""))
    notifier = deps.approvals.notifier

    async def tell(reply: Reply) -> None:
        await notifier.tell_user(user, "", reply)

    work = open_form(deps, str(body.get("trigger_id", "")), Origin(user, ""), tell)
    if not deps.jobs.spawn(work, name=f"form:{user}"):
        deps.jobs.spawn_notice(tell(BUSY), name=f"busy:{user}")
    await ack()


async def open_form(deps: Deps, trigger_id: str, origin: Origin, tell: Tell) -> None:
    client = deps.approvals.notifier.client
    sealed = sealer(deps).seal(origin)
    try:
        opened = await client.views_open(trigger_id=trigger_id, view=loading_view(sealed))
        view_id, hash_ = str(opened["view"]["id"]), str(opened["view"]["hash"])
    except (TimeoutError, SlackClientError, OSError, KeyError, TypeError) as exc:
        said = _slack_error(exc)
        log.warning("views.open failed for %s: %s", origin.user, said)
        await tell(
            error_card(
                "The request form could not be opened",
                f"{TRIGGER_ERRORS.get(said, 'Slack refused it')} (Slack said {said}). "
                "Nothing was filed.",
                hint="Try again, or file it with /chime invite <email> --account <name> [reason].",
            )
        )
        return
    view = await _form_or_message(deps, sealed, origin)
    try:
        await client.views_update(view_id=view_id, hash=hash_, view=view)
    except (TimeoutError, SlackClientError, OSError) as exc:
        # Closed by the user meanwhile (not_found), or changed since: nothing is lost, since
        # nothing was filed; the person can open the form again.
        log.info("form %s not updated: %s", view_id, _slack_error(exc))


async def _form_or_message(deps: Deps, sealed: str, origin: Origin) -> dict[str, Any]:
    # As for the slash command: a request no one could approve is refused before any Chime
    # call (with approver groups the question needs Slack, so it waits for the submission).
    decision = deps.policy.may_file(origin.user)
    if not decision.allowed and not deps.approvers.groups:
        return message_view(sealed, error_card("Nothing to request here", decision.reason))
    try:
        accounts = await deps.directory.all_accounts()
    except Exception as exc:
        return message_view(sealed, reply_for(exc, deps.log, user=origin.user, command="form"))
    if origin.from_shortcut:
        offered = requestable_anywhere(accounts, deps.approvals.book, origin.user)
        where = deps.policy.may_use_channel("")
    else:
        offered = requestable_accounts(accounts, deps.approvals.book, origin.user, origin.channel)
        where = deps.policy.may_use_channel(origin.channel)
    if not offered:
        reason = (
            "None of the Amazon Chime accounts the bot can see takes new users through the bot "
            "(each is suspended or connected to a directory)."
            if where.allowed or (origin.from_shortcut and deps.policy.allowed_channels)
            else where.reason
        )
        return message_view(sealed, error_card("Nothing to request here", reason))
    book = deps.approvals.book
    caps = {
        a.account_id: most
        for a in offered
        if (most := book.for_account(a.account_id, a.name, accounts).max_access) is not None
    }
    return form_view(sealed, origin, offered, deps.settings.chime_default_account, caps)


async def on_submission(deps: Deps, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Answer a submission; whatever goes wrong, Slack gets an answer the person can read."""
    acked = False

    async def once(**answer: Any) -> None:
        nonlocal acked
        acked = True
        await ack(**answer)

    try:
        await _on_submission(deps, once, body, view)
    except Exception as exc:
        # Last line of defence, as for commands: an error ID in the form, never a 5xx.
        reply = reply_for(exc, deps.log, command="form")
        if not acked:
            await ack(response_action="update", view=message_view("", reply))


async def _on_submission(deps: Deps, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    user = str((body.get("user") or {}).get("id", ""))
    origin = sealer(deps).open(view.get("private_metadata"))
    if origin is None or origin.user != user:
        log.warning("form submission refused: origin not sealed by this bot, or not for %s", user)
        refused = error_card(
            "This form cannot be used",
            "It was not opened for you by this bot, so nothing was filed.",
            hint="Open a new one with /chime invite or the shortcut.",
        )
        await ack(response_action="update", view=message_view("", refused))
        return
    read = read_submission((view.get("state") or {}).get("values"), origin, deps.policy)
    if read.invite is None:
        await ack(response_action="errors", errors=read.errors)
        return
    listing = asyncio.ensure_future(deps.directory.all_accounts())
    member = asyncio.ensure_future(_membership(deps, user, read.channel, origin.from_shortcut))
    # Both within the one wait; the timeout cancels neither, so what is late is checked after.
    await asyncio.wait([listing, member], timeout=SUBMIT_WAIT)
    accounts = _result(listing)
    if accounts is not None:
        problem = _account_problem(deps, accounts, read.invite.account, user, read.channel)
        if problem:
            member.cancel()
            await ack(response_action="errors", errors={Field.ACCOUNT: problem})
            return
        too_long = _access_problem(deps, accounts, read.invite)
        if too_long:
            member.cancel()
            await ack(response_action="errors", errors={Field.ACCESS_FOR: too_long})
            return
    outsider = _result(member)
    if outsider:
        listing.cancel()
        await ack(response_action="errors", errors={Field.CHANNEL: outsider})
        return
    invite, channel = read.invite, read.channel

    async def file() -> None:
        started, outcome = time.perf_counter(), "refused"
        try:
            # Checked again here when the answer could not wait for Slack or Chime.
            outside = await member
            reply = error_card("Request not filed", outside) if outside else None
            if reply is None:
                reply = await _file_checked(deps, listing, invite.account, user, channel)
            if reply is None:
                reply, outcome = await file_request(deps, invite, user, channel)
        except Exception as exc:
            reply, outcome = reply_for(exc, deps.log, **fields), type(exc).__name__
        await deps.approvals.notifier.tell_user(user, channel, reply)
        seconds = time.perf_counter() - started
        deps.metrics.command("form", outcome, seconds, replied_later=True)
        deps.log.info("request form -> %s", outcome, extra={**fields, "outcome": outcome})

    fields = {"command": "form", "user": user, "channel": channel}

    if deps.jobs.spawn(file(), name=f"form-submit:{user}"):
        await ack()
    else:
        listing.cancel()
        member.cancel()
        await ack(response_action="errors", errors={Field.EMAIL: BUSY_NOW})


async def _membership(deps: Deps, user: str, channel: str, chosen: bool) -> str:
    """Why `user` may not file from `channel` ("" if they may). Only a channel chosen in the
    shortcut's form needs asking: Slack sends a slash command (and the form it opens) only from
    a channel its user is in. The policy's channel list is the control on who may request for
    an account, so someone outside the channel may not borrow it; fails closed."""
    if not chosen:
        return ""
    try:
        inside = await is_member(deps.approvals.notifier.client, channel, user)
    except MembershipUnknown as exc:
        log.warning("membership of %s in %s unknown: %s", user, channel, exc.why)
        return exc.message
    if inside:
        return ""
    return "You are not in that channel, so a request cannot come from it. Choose one you are in."


async def _file_checked(
    deps: Deps, listing: asyncio.Future[list[Account]], account: str | None, user: str, channel: str
) -> Reply | None:
    """A refusal if the account may not be requested for (checked again here when the answer
    could not wait for the list), else None."""
    problem = _account_problem(deps, await listing, account, user, channel)
    return error_card("Request not filed", problem) if problem else None


def _account_problem(
    deps: Deps, accounts: list[Account], account: str | None, user: str, channel: str
) -> str | None:
    if any(
        a.account_id == account
        for a in requestable_accounts(accounts, deps.approvals.book, user, channel)
    ):
        return None
    return (
        "That account can no longer be requested for from here (it was suspended, removed, or "
        "is not allowed for this channel). Choose another; nothing was filed."
    )


def _access_problem(deps: Deps, accounts: list[Account], invite: Invite) -> str | None:
    """Why the chosen account's max_access refuses the chosen period (None if it does not).
    When the account list is late this is left to filing, which refuses it by DM."""
    account = next((a for a in accounts if a.account_id == invite.account), None)
    if account is None:
        return None
    rules = deps.approvals.book.for_account(account.account_id, account.name, accounts)
    return access_problem(rules, invite.access_for, account.name)


def _result(task: asyncio.Future[T]) -> T | None:
    """The task's result if it has one already, else None (it keeps running). A failure is
    left in it: the check after the ack awaits it again and reports it properly."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


def _slack_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return f"nothing in time ({type(exc).__name__})"
