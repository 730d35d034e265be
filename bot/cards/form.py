"""The request form: a modal with the fields of `/chime invite`, and what its submission means.

Pure functions, no network: the views the bot shows (loading, the form, a message), the sealed
origin that rides in `private_metadata`, the accounts a person may request for, and the reading
of a `view_submission` into the same `Invite` the slash command files, or inline errors.

`private_metadata` round-trips through Slack's client, so it is treated like any other input: it
carries who opened the form and from which channel, sealed with an HMAC under a key derived from
the signing secret, and a submission whose seal fails, or whose submitter is not the person the
form was opened for, files nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from bot.cards.base import Block, Reply, clean, context, plain, section, shorten
from bot.chime.accounts import DIRECTORY_ACCOUNTS
from bot.durations import parse_duration, said
from bot.models import Account, UserType
from bot.policy.authz import Policy
from bot.policy.effective import AccountPolicy, Policies
from bot.slack.commands import MAX_REASON_LENGTH, Invite
from bot.slack.limits import MAX_LABEL, MAX_OPTION_TEXT, MAX_OPTIONS
from bot.slack.text import MAX_EMAIL_LENGTH, email_problem, printable

SHORTCUT_ID = "chime_request"  # manifest.yml: features.shortcuts[].callback_id
CALLBACK_ID = "chime_request_form"
TITLE = "Request a Chime user"  # a modal title holds 24 characters
MAX_ACCOUNTS = MAX_OPTIONS["static_select"]
# What a modal's inline error may say: Slack's reference gives no limit for the strings in
# `response_action: errors`; kept short, as a line under a field.
MAX_ERROR = 300


class Field(StrEnum):
    """The form's inputs: each is its block_id and its element's action_id."""

    EMAIL = "email"
    ACCOUNT = "account"
    USER_TYPE = "user_type"
    REASON = "reason"
    CHANNEL = "channel"  # only in a form opened from the global shortcut, which has no channel
    ACCESS_FOR = "access_for"


# "Access for": what `--for` would say (bot/durations.py's grammar) and what the form shows. A
# handful of common periods rather than free text: a typed duration is the slash command's.
NO_END = "none"
ACCESS_CHOICES: tuple[tuple[str, str], ...] = (
    (NO_END, "No end"),
    ("8h", "8 hours"),
    ("1d", "1 day"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
)
MAX_CAPS_SHOWN = 10  # accounts whose max_access the field's hint names; the rest are counted


# ---- the sealed origin ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Who opened the form, and the channel it was opened in ("" from the global shortcut)."""

    user: str
    channel: str

    @property
    def from_shortcut(self) -> bool:
        return not self.channel


class Sealer:
    def __init__(self, signing_secret: str) -> None:
        # A key of its own: a sealed origin can never pass for a request signature.
        self._key = hmac.new(
            signing_secret.encode(), b"chime-bot form origin v1", "sha256"
        ).digest()

    def seal(self, origin: Origin) -> str:
        body = json.dumps({"u": origin.user, "c": origin.channel}, separators=(",", ":"))
        return f"{self._mac(body)}.{body}"

    def open(self, sealed: object) -> Origin | None:
        """The origin sealed in `sealed`, or None if it is not one this bot sealed."""
        if not isinstance(sealed, str) or "." not in sealed:
            return None
        mac, _, body = sealed.partition(".")
        # As bytes: compare_digest refuses a str with non-ASCII characters (a forged one can).
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        fields = json.loads(body)
        return Origin(str(fields["u"]), str(fields["c"]))

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


# ---- who may request for what -----------------------------------------------------------------


def requestable_accounts(
    accounts: Iterable[Account], policies: Policies, user: str, channel: str
) -> list[Account]:
    """The accounts `user` may request a new Chime user for from `channel`: active, not
    connected to a directory (whose users are added there), and taking requests from `channel`
    under the account's effective policy (bot/policy/effective.py: the policy file's entry, its
    default section, or the environment). The rest of the policy (user types, approvers) is checked
    on submission, by the same filing path as the slash command."""
    del user  # the policy says where, not who, may request
    listed = list(accounts)
    return [
        a
        for a in listed
        if not a.is_suspended
        and a.account_type not in DIRECTORY_ACCOUNTS
        and policies.for_account(a.account_id, a.name, listed)
        .may_request_from(channel, a.name)
        .allowed
    ]


def requestable_anywhere(accounts: list[Account], policies: Policies, user: str) -> list[Account]:
    """What the global shortcut's form offers before a channel is chosen: the accounts
    requestable from at least one allowed channel (the chosen one is checked on submission)."""
    ids: set[str] = set()
    for channel in sorted(policies.channels()):
        ids |= {a.account_id for a in requestable_accounts(accounts, policies, user, channel)}
    return [a for a in accounts if a.account_id in ids]


# ---- views ------------------------------------------------------------------------------------


def _modal(sealed: str, blocks: list[Block], *, submit: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain(TITLE),
        "close": plain("Cancel" if submit else "Close"),
        "private_metadata": sealed,
        "blocks": blocks,
    }
    if submit:
        view["submit"] = plain("Request")
    return view


def loading_view(sealed: str) -> dict[str, Any]:
    """What views.open shows at once: nothing in it needs Chime, so it never misses 3 s."""
    return _modal(
        sealed,
        [section(":hourglass_flowing_sand: Loading the Amazon Chime accounts…")],
        submit=False,
    )


def message_view(sealed: str, reply: Reply) -> dict[str, Any]:
    """A modal that only says something (an error card, say); nothing to submit."""
    return _modal(sealed, reply.blocks, submit=False)


def form_view(
    sealed: str,
    origin: Origin,
    accounts: list[Account],
    default: str | None,
    caps: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The form itself, for a non-empty list of accounts; `default` is preselected if listed.
    `caps`: the max_access (seconds) of each account that has one, by account ID."""
    shown = sorted(accounts, key=lambda a: (a.name.casefold(), a.account_id))[:MAX_ACCOUNTS]
    options = _account_options(shown)
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": Field.ACCOUNT,
        "placeholder": plain("Choose an account"),
        "options": options,
    }
    chosen = [o for a, o in zip(shown, options, strict=True) if default in (a.account_id, a.name)]
    if len(shown) == 1 or chosen:
        select["initial_option"] = (chosen or options)[0]
    types = [{"text": plain(t.value), "value": t.value} for t in UserType]
    blocks: list[Block] = [
        _input(Field.EMAIL, "Email address", _text_input(Field.EMAIL, MAX_EMAIL_LENGTH)),
        _input(Field.ACCOUNT, "Amazon Chime account", select),
        _input(
            Field.USER_TYPE,
            "User type",
            {
                "type": "radio_buttons",
                "action_id": Field.USER_TYPE,
                "options": types,
                "initial_option": types[0],
            },
        ),
        _access_input(shown, caps or {}),
        _input(
            Field.REASON,
            "Reason",
            {**_text_input(Field.REASON, MAX_REASON_LENGTH), "multiline": True},
            optional=True,
        ),
    ]
    if origin.from_shortcut:
        channel = {
            "type": "conversations_select",
            "action_id": Field.CHANNEL,
            "placeholder": plain("Choose a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }
        hint = "The request is filed as if from this channel; /chime must be allowed there."
        blocks.insert(0, {**_input(Field.CHANNEL, "Channel", channel), "hint": plain(hint)})
    if len(accounts) > len(shown):
        more = f"{len(shown)} of {len(accounts)} accounts are listed; for another one use "
        blocks.append(context(more + "`/chime invite <email> --account <name>`."))
    return _modal(sealed, blocks, submit=True)


def _account_options(accounts: list[Account]) -> list[dict[str, Any]]:
    names = [a.name.casefold() for a in accounts]
    options = []
    for account in accounts:
        label = clean(account.name)
        if names.count(account.name.casefold()) > 1:  # two accounts of one name: add the ID
            label = f"{shorten(label, 40)} · {account.account_id}"
        options.append(
            {"text": plain(label, MAX_OPTION_TEXT, middle=True), "value": account.account_id}
        )
    return options


def _access_input(accounts: list[Account], caps: Mapping[str, int]) -> Block:
    """ "Access for", "No end" chosen. Which account is chosen is not known until submission (the
    select dispatches nothing), so the hint names the accounts whose max_access turns "No end"
    into an end; a longer choice is refused on submission, in the form."""
    options = [{"text": plain(label), "value": value} for value, label in ACCESS_CHOICES]
    block = _input(
        Field.ACCESS_FOR,
        "Access for",
        {
            "type": "static_select",
            "action_id": Field.ACCESS_FOR,
            "options": options,
            "initial_option": options[0],
        },
    )
    capped = [(a.name, caps[a.account_id]) for a in accounts if a.account_id in caps]
    if capped:
        named = ", ".join(f"{clean(n)} {said(s)}" for n, s in capped[:MAX_CAPS_SHOWN])
        more = len(capped) - MAX_CAPS_SHOWN
        named += f" and {more} more" if more > 0 else ""
        hint = (
            f"Access lasts at most: {named}. On those accounts No end means that maximum. "
            "The period starts at approval; then the user is suspended."
        )
        block["hint"] = plain(hint, MAX_LABEL, middle=True)
    return block


def _input(field: Field, label: str, element: dict[str, Any], *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": field,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def _text_input(field: Field, most: int) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": field, "max_length": most}


# ---- reading a submission ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submission read: the command it files and the channel it counts as coming from, or
    the inline errors by block_id (then `invite` is None)."""

    invite: Invite | None
    channel: str
    errors: dict[str, str]


def read_submission(values: object, origin: Origin, policy: Policy) -> Submitted:
    """The form's values (`view.state.values`), checked as the slash command's parser checks
    its text. Anything not in Slack's shape reads as an empty field."""
    state = values if isinstance(values, Mapping) else {}
    errors: dict[str, str] = {}
    email, problem = email_problem(_value(state, Field.EMAIL))
    if not _value(state, Field.EMAIL).strip():
        errors[Field.EMAIL] = "Give the email address of the person to add."
    elif email is None:
        errors[Field.EMAIL] = problem
    account = _value(state, Field.ACCOUNT)
    if not account:
        errors[Field.ACCOUNT] = "Choose the Amazon Chime account."
    user_type = next((t for t in UserType if t.value == _value(state, Field.USER_TYPE)), None)
    if user_type is None:
        errors[Field.USER_TYPE] = "Choose PrivateUser or SharedDevice."
    access_for = _access_for(_value(state, Field.ACCESS_FOR))
    if access_for is False:
        errors[Field.ACCESS_FOR] = "Choose how long the access lasts, from the list."
    reason = printable(_value(state, Field.REASON))
    if len(reason) > MAX_REASON_LENGTH:
        errors[Field.REASON] = (
            f"The reason has {len(reason)} characters; keep it to {MAX_REASON_LENGTH}."
        )
    channel = origin.channel
    if origin.from_shortcut:
        channel = _value(state, Field.CHANNEL)
        decision = policy.may_use_channel(channel)
        if not channel:
            errors[Field.CHANNEL] = "Choose the channel this request is for."
        elif not decision.allowed:
            errors[Field.CHANNEL] = decision.reason
    if errors or email is None or user_type is None or access_for is False:
        return Submitted(
            None, channel, {k: shorten(clean(v), MAX_ERROR) for k, v in errors.items()}
        )
    invite = Invite(email, account, user_type, reason, account_is_id=True, access_for=access_for)
    return Submitted(invite, channel, {})


def _access_for(value: str) -> int | Literal[False] | None:
    """Seconds for the choice made in "Access for", None for No end, False for a value the form
    never offered. An empty field is No end: Slack always sends the initial choice, and what the
    account's max_access says applies to No end all the same."""
    if value in ("", NO_END):
        return None
    if value not in {v for v, _ in ACCESS_CHOICES}:
        return False
    return parse_duration(value)


def access_problem(rules: AccountPolicy, asked: int | None, account_name: str) -> str | None:
    """Why the account's max_access refuses the form's choice, for the field; None if it does
    not. The slash command's refusal (AccountPolicy.access_refusal) names `--for`."""
    if rules.access_refusal(asked, account_name).allowed or rules.max_access is None:
        return None
    most = said(rules.max_access)
    # The source (a file's path, say) last: cut short, it takes nothing the person needs.
    why = (
        f"Access to {account_name} can last at most {most}; you chose {said(asked or 0)}. "
        f"Choose a shorter one, or No end for {most}. (Its max_access, from {rules.source}.)"
    )
    return shorten(clean(why), MAX_ERROR)


def _value(state: Mapping[str, Any], field: Field) -> str:
    """The text typed, the option's value or the conversation chosen in one input, or ""."""
    block = state.get(field)
    entry = block.get(field) if isinstance(block, Mapping) else None
    if not isinstance(entry, Mapping):
        return ""
    found = entry.get("value")
    if found is None and isinstance(entry.get("selected_option"), Mapping):
        found = entry["selected_option"].get("value")
    if found is None:
        found = entry.get("selected_conversation")
    return found if isinstance(found, str) else ""
