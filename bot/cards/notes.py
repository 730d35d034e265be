"""Block Kit for what the invite flow tells people about a single request, outside its card: the
requester's notes (filed, already open, already in Chime, its outcome, an approval under way),
the approver's notes on a click that changed nothing, and the `/chime pending` list.

Worded with the approval card's own words (`bot.cards.approval`: status words, approver lines,
Chime's result) and the same rule for untrusted text: emails, reasons, account names and errors
are plain text (`says`, `plain`); mrkdwn holds only fixed wording, mentions of Slack-issued IDs
and dates. A bulk invite's notes are in `bot.cards.batch`."""

from __future__ import annotations

from bot.cards.access import access_line, extension_line
from bot.cards.approval import (
    approvals_line,
    approvals_missing,
    approved_by,
    channel_ref,
    more_approvers,
    result_line,
    status_word,
    user_ref,
)
from bot.cards.base import (
    Reply,
    clean,
    context,
    epoch_date,
    literal,
    plain,
    says,
    section,
)
from bot.cards.changes import ran_unapproved, wording
from bot.store.model import Change, InviteRequest, Status


def filed_note(request: InviteRequest, where: str) -> Reply:
    return Reply(
        text=f"Request {literal(request.id)} for {literal(request.email)} awaits approval",
        blocks=[
            says(
                f"⏳ Request {request.id} {wording(request).to_do} {clean(request.email)} "
                f"{'to' if request.change == Change.INVITE else 'in'} "
                f"{clean(request.account_name)} awaits approval."
            ),
            context(
                f"Approvers decide in {channel_ref(where)}. "
                "You'll get a direct message when one does."
            ),
            *[section(line) for line in (access_line(request), extension_line(request)) if line],
        ],
    )


def duplicate_note(existing: InviteRequest) -> Reply:
    where = channel_ref(existing.card_channel or existing.origin_channel)
    return Reply(
        text=f"{literal(existing.email)} already has an open request {literal(existing.id)}",
        blocks=[
            says(
                f"ℹ️ {clean(existing.email)} already has an open request {existing.id} for "
                f"{clean(existing.account_name)} ({status_word(existing).lower()}). "
                "Nothing new was filed."
            ),
            context(
                f"Filed by {user_ref(existing.requester)} {epoch_date(existing.created_at)}, "
                f"in {where}."
            ),
        ],
    )


def exists_note(email: str, account_names: list[str]) -> Reply:
    names = ", ".join(clean(n) for n in account_names)
    return Reply(
        text=f"{literal(email)} already exists in {literal(names)}",
        blocks=[
            says(f"ℹ️ {clean(email)} already exists in {names}. Nothing was filed."),
            context("See the details with", plain(f"/chime user {email}")),
        ],
    )


def outcome_note(request: InviteRequest) -> Reply:
    """What the requester is told when their request is decided or finished."""
    word = status_word(request)
    by = user_ref(request.decided_by)
    words = wording(request)
    headline, detail = {
        Status.APPROVED: (
            "was *done*: the account's policy needs no approval for it."
            if ran_unapproved(request)
            else f"was *approved* by {approved_by(request)}.",
            result_line(request),
        ),
        Status.DENIED: (f"was *denied* by {by}.", words.nothing),
        Status.FAILED: (
            "was approved, but it *did not go through*. Approvers can retry it.",
            f"Why: {clean(request.error or 'unknown error')}",
        ),
        Status.EXPIRED: (
            # Its deadline, not when a sweep or a click noticed it had passed.
            f"*expired* {epoch_date(request.expires_at)} without a decision. File a new one if "
            "it is still needed.",
            words.nothing,
        ),
    }.get(request.status, (f"is now {word.lower()}.", ""))
    return Reply(
        text=f"{word}: your Chime request for {literal(request.email)}",
        blocks=[
            section(f"Your Chime {words.noun} {headline}"),
            says(
                f"Request {request.id}: {clean(request.email)} in "
                f"{clean(request.account_name)}. {detail}"
            ),
            *[section(line) for line in (access_line(request),) if line],
        ],
    )


def progress_note(request: InviteRequest) -> Reply:
    """The requester's news when an approval lands that is not the last."""
    return Reply(
        text=f"Your Chime request for {literal(request.email)} has "
        f"{len(request.approvals)} of {request.approvals_required} approvals",
        blocks=[
            section(
                f"Your Chime {wording(request).noun} has {approvals_line(request)}. It waits "
                f"for {approvals_missing(request)} more before anything is done."
            ),
            says(f"Request {request.id}: {clean(request.email)} in {clean(request.account_name)}."),
        ],
    )


def already_approved_note(request: InviteRequest) -> Reply:
    """For an approver who clicks Approve again: their approval is in, someone else's is due."""
    return Reply(
        text=f"You already approved request {literal(request.id)}",
        blocks=[
            section(
                f"You already approved; {more_approvers(request)} needed. Your approval "
                f"counts once, so nothing changed. ({approvals_line(request)})"
            ),
            context("Request", plain(request.id)),
        ],
    )


def expired_note(request: InviteRequest) -> Reply:
    """For whoever clicks on a request whose deadline has passed: when that was."""
    return Reply(
        text=f"Request {literal(request.id)} has expired",
        blocks=[
            section(
                f":no_entry: *This request expired* {epoch_date(request.expires_at)} without a "
                "decision, so it can no longer be approved or denied. Nothing was created."
            ),
            context("Request", plain(request.id)),
        ],
    )


def too_close_note(request: InviteRequest, margin: float) -> Reply:
    """For a click within `margin` of the deadline, where the bot's replicas' clocks may
    disagree: no one decides then, so that nothing is approved after the deadline."""
    return Reply(
        text=f"Request {literal(request.id)} is too close to its deadline",
        blocks=[
            section(
                f"This request reaches its deadline {epoch_date(request.expires_at)}, within "
                f"{margin:g} seconds, the allowance for the clocks of the bot's servers, so it "
                "can no longer be approved or denied. Nothing changed; it expires shortly. "
                "File it again if it is still needed."
            ),
            context("Request", plain(request.id)),
        ],
    )


def clock_off_note(why: str) -> Reply:
    """For a click on a replica whose clock cannot be trusted to judge deadlines now."""
    return Reply(
        text="This server cannot decide right now",
        blocks=[
            section(
                ":hourglass: *This server cannot decide right now*: its clock cannot be trusted "
                "to judge deadlines. Nothing changed. Try again shortly."
            ),
            context(plain(why[:500])),
        ],
    )


def decided_already_note(request: InviteRequest) -> Reply:
    state = status_word(request).lower()
    when = epoch_date(request.decided_at or request.updated_at)
    if request.status == Status.EXPIRED:
        # An expiry is no one's decision: the deadline passed, and that is when it expired.
        outcome = f"expired {epoch_date(request.expires_at)} without a decision"
    elif request.decided_by:
        outcome = f"was already decided: {state} by {user_ref(request.decided_by)} {when}"
    else:
        outcome = f"was already decided: {state} {when}"
    return Reply(
        text=f"Request {literal(request.id)} is already {state}",
        blocks=[
            section(f"That request {outcome}. Nothing changed."),
            context("Request", plain(request.id)),
        ],
    )


# ---- a filing whose answer the store lost (bot/approvals/filing.py, orphans.py) -------------


def not_filed_note(request: InviteRequest) -> Reply:
    """The store did not answer the filing, and reading it back shows it was not written."""
    return Reply(
        text=f"Request for {literal(request.email)} not filed: the request store did not answer",
        blocks=[
            says(
                f"⚠️ The request store did not answer while your request to add "
                f"{clean(request.email)} to {clean(request.account_name)} was being filed, "
                "and it holds no such request: nothing was filed."
            ),
            context("Try again in a minute."),
        ],
    )


def unconfirmed_note(request: InviteRequest, grace: float) -> Reply:
    """The store did not answer the filing, nor the read that would have told."""
    minutes = max(1, round(grace / 60))
    return Reply(
        text=f"Request for {literal(request.email)} not confirmed: the request store did not "
        "answer",
        blocks=[
            says(
                f"⚠️ The request store did not answer while your request {request.id} to add "
                f"{clean(request.email)} to {clean(request.account_name)} was being filed, so "
                "the bot cannot tell whether it was. No approval card was posted."
            ),
            context(
                f"If it was stored, the bot withdraws it within about {minutes} minutes and "
                "sends you a direct message; then file it again."
            ),
        ],
    )


def unseen_withdrawn_note(request: InviteRequest, addresses: int = 1) -> Reply:
    """A request that was stored but whose approval card was never posted (its filing was cut
    short), withdrawn by the sweep: no one could have approved it."""
    what = f"{clean(request.email)}" if addresses == 1 else f"{addresses} addresses"
    return Reply(
        text=f"Withdrawn: your Chime request {literal(request.id)} was never shown to approvers",
        blocks=[
            section(f"Your Chime user request {request.id} was *withdrawn*."),
            says(
                f"Its filing was cut short before its approval card was posted, so no approver "
                f"could see it. Request {request.id}: {what} in "
                f"{clean(request.account_name)}. Nothing was created."
            ),
            context("Nothing is pending now: file it again if it is still needed."),
        ],
    )
