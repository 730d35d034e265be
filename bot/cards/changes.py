"""The words for each kind of change a request can stand for (issue 21): what its card calls it,
the exact Chime call approval runs, what happens to the user on that account's type, and what
Chime's answer means. The approval card, a batch's card, App Home and the notes all ask here, so
a suspension is never described as a new user anywhere.

Every value returned is plain wording or a Chime-issued value; the card builders put each
through the same untrusted-text path as an email (`says`, `fields`, `plain`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.base import clean
from bot.store.model import Change, InviteRequest


@dataclass(frozen=True, slots=True)
class Wording:
    title: str  # the card's header
    asks: str  # "asks for a new Amazon Chime user", after the requester's mention
    many: str  # the same for a batch, with `{count}`
    operation: str  # the Chime operation approval runs
    verb: str  # for the confirm dialog: "This will {verb} …"
    effect: str  # what happens to the user, on this account's type
    nothing: str  # said when it was denied or expired: nothing happened
    retry_checks: str  # what a Retry looks at before calling again

    @property
    def noun(self) -> str:
        """ "user request", "suspension request": for fallback texts and notes."""
        return self.title.removeprefix("Amazon Chime ")

    @property
    def to_do(self) -> str:
        """ "to add", "to suspend": how a note names what was asked."""
        return "to add" if self.verb in ("invite", "create") else f"to {self.verb}"


_NOTHING_CHANGED = "Nothing was changed."


def wording(request: InviteRequest) -> Wording:
    account = request.account
    change = request.change
    if change == Change.INVITE:
        verb = "invite" if account.is_team else "create"
        return Wording(
            "Amazon Chime user request",
            "asks for a new Amazon Chime user",
            "asks for {count} new Amazon Chime users",
            account.create_operation,
            verb,
            "invited to the Team account" if account.is_team else "created in the account",
            "Nothing was created.",
            "whether the user was created after all",
        )
    if change == Change.SUSPEND:
        effect = (
            # botocore's model (BatchSuspendUser): Team users are removed from the account and
            # keep a free Chime login; InviteUsers brings them back.
            "removed from the Team account (keeps a free Chime login; /chime invite brings them "
            "back)"
            if account.is_team
            else "suspended and signed out"
        )
        return Wording(
            "Amazon Chime suspension request",
            "asks to suspend an Amazon Chime user",
            "asks to suspend {count} Amazon Chime users",
            "BatchSuspendUser",
            "suspend",
            effect,
            _NOTHING_CHANGED,
            "whether the user is suspended after all",
        )
    if change == Change.UNSUSPEND:
        return Wording(
            "Amazon Chime unsuspension request",
            "asks to unsuspend an Amazon Chime user",
            "asks to unsuspend {count} Amazon Chime users",
            "BatchUnsuspendUser",
            "unsuspend",
            "unsuspended: they can sign in again",
            _NOTHING_CHANGED,
            "whether the user is unsuspended after all",
        )
    if change == Change.LOGOUT:
        return Wording(
            "Amazon Chime sign-out request",
            "asks to sign an Amazon Chime user out",
            "asks to sign {count} Amazon Chime users out",
            "LogoutUser",
            "sign out",
            "signed out of every device",
            _NOTHING_CHANGED,
            "nothing (signing out again is harmless)",
        )
    if change == Change.RESET_PIN:
        return Wording(
            "Amazon Chime PIN reset request",
            "asks to reset an Amazon Chime user's personal meeting PIN",
            "asks to reset {count} personal meeting PINs",
            "ResetPersonalPIN",
            "reset the personal meeting PIN of",
            "given a new personal meeting PIN, sent only to them by direct message",
            _NOTHING_CHANGED,
            "nothing (Chime cannot show whether a PIN was reset: a retry makes a new one)",
        )
    if change == Change.EXTEND:
        return Wording(
            "Amazon Chime access extension request",
            "asks to extend a user's time-bound access",
            "asks to extend the time-bound access of {count} users",
            "no Amazon Chime call (the bot moves the access's end)",
            "extend the access of",
            "kept in the account until the new end, then suspended",
            "The access ends as it was.",
            "whether the end was moved after all",
        )
    license_type = request.params.get("license", "?")
    return Wording(
        "Amazon Chime license request",
        f"asks to change an Amazon Chime user's license to {license_type}",
        f"asks to change {{count}} licenses to {license_type}",
        "UpdateUser",
        f"change to {license_type} the license of",
        f"moved from the {request.params.get('from_license') or 'current'} license to "
        f"{license_type}",
        _NOTHING_CHANGED,
        "whether the license was changed after all",
    )


def operation_fields(request: InviteRequest) -> list[tuple[str, object]]:
    """The exact arguments approval will send to Chime, as label/value rows."""
    account = request.account
    user_id = request.params.get("user_id", "")
    change = request.change
    if change == Change.INVITE:
        if account.is_team:
            emails: tuple[str, object] = ("UserEmailList", f"[{clean(request.email)}]")
        else:
            emails = ("Email", request.email)
        return [("AccountId", request.account_id), emails, ("UserType", request.user_type)]
    if change in (Change.SUSPEND, Change.UNSUSPEND):
        return [("AccountId", request.account_id), ("UserIdList", f"[{user_id}]")]
    if change == Change.EXTEND:
        return [("Access of request", request.params.get("access_of", ""))]
    rows: list[tuple[str, object]] = [("AccountId", request.account_id), ("UserId", user_id)]
    if change == Change.LICENSE:
        rows.append(("LicenseType", request.params.get("license", "")))
    return rows


def change_result(request: InviteRequest) -> str | None:
    """What Chime's answer to a lifecycle change means, in plain words; None for an invite."""
    if request.change == Change.INVITE:
        return None
    result = request.result or {}
    after = (
        " (confirmed by looking, after Chime's answer was lost)"
        if result.get("reconciled") or result.get("confirmed")
        else ""
    )
    change = request.change
    if change == Change.SUSPEND:
        if request.account.is_team:
            return f"Removed from the Team account{after}; they keep a free Chime login."
        return f"Suspended and signed out{after}."
    if change == Change.UNSUSPEND:
        return f"Unsuspended{after}: they can sign in again."
    if change == Change.LOGOUT:
        return f"Signed out of every device{after}."
    if change == Change.EXTEND:
        return f"The access's end was moved{after}."
    if change == Change.LICENSE:
        return (
            f"The license is now {result.get('license') or request.params.get('license')}{after}."
        )
    sent_to = result.get("pin_sent_to", "")
    if sent_to:
        return "A new personal meeting PIN was made and sent to its owner by direct message."
    why = result.get("pin_not_sent", "no Slack user has this email address")
    return (
        f"A new personal meeting PIN was made, but it was not sent ({why}): the owner finds it "
        "in their Amazon Chime settings."
    )


def what_is_asked(request: InviteRequest) -> str:
    """One line's worth of what a request asks, for lists (App Home, /chime pending,
    reminders): "invite (PrivateUser)", "suspend (BatchSuspendUser)", "license → Pro
    (UpdateUser)". Plain text: the caller escapes it with the rest of its line."""
    if request.change == Change.INVITE:
        return f"new user ({request.user_type})"
    words = wording(request)
    label = request.change.value.replace("_", " ")
    if request.change == Change.LICENSE:
        label += f" → {request.params.get('license', '?')}"
    return f"{label} ({words.operation})"


# params["approval"] of a change its account's policy ran without approval
# (bot/approvals/change_filing.py): its notes say so rather than name an approver.
NO_APPROVAL = "none"


def ran_unapproved(request: InviteRequest) -> bool:
    return request.params.get("approval") == NO_APPROVAL
