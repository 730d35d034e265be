"""Which Chime account an invite goes to: `--account`, then CHIME_DEFAULT_ACCOUNT, then the only
active account the bot can see. Anything else is a clear error that lists the candidates.

Names are matched here, exactly and case-insensitively, over every page of ListAccounts
(cached briefly by `Directory.all_accounts`; a name or ID the cached list lacks is looked for
once more in a fresh one if the list is more than a few seconds old, so an account created a
moment ago is not refused). ListAccounts' own `Name` filter is never used: the
model calls it a prefix filter and says nothing of case, so its answer cannot decide a match.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

from bot.chime.directory import Directory
from bot.errors import InvalidInput, NotConfigured
from bot.models import Account

MAX_CANDIDATES = 10

# Accounts connected to a directory get their users from it, not from invitations. The Amazon
# Chime Administration Guide: "Connecting to your Active Directory"
# (https://docs.aws.amazon.com/chime/latest/ag/active_directory.html): users sign in with their
# Active Directory credentials and must be in a directory group mapped to a Chime license;
# "Connecting to Okta SSO" (https://docs.aws.amazon.com/chime/latest/ag/okta_sso.html): Okta
# authenticates users (OpenID Connect) and the Amazon Chime SCIM Provisioning app pushes user
# and group changes to Chime; "Managing users"
# (https://docs.aws.amazon.com/chime/latest/ag/manage-users.html): permission tiers and removals
# for such accounts are managed through Active Directory or Okta. So the bot refuses, and says
# where the person is added instead.
DIRECTORY_ACCOUNTS = {
    "EnterpriseDirectory": (
        "is connected to Active Directory: its users are added in the directory. Add the "
        "person to an Active Directory group that the Chime account maps to a Basic or Pro "
        "license; they appear in Chime when they sign in with their directory credentials"
    ),
    "EnterpriseOIDC": (
        "is connected to Okta SSO: its users are added in Okta. Assign the person to the "
        "Amazon Chime apps in Okta (SCIM provisioning pushes them to Chime); they sign in "
        "through Okta"
    ),
}
GUIDE = (
    "Amazon Chime Administration Guide: docs.aws.amazon.com/chime/latest/ag/active_directory.html "
    "and okta_sso.html"
)


def _names(accounts: list[Account]) -> str:
    shown = [f"{a.name} ({a.account_id})" for a in accounts[:MAX_CANDIDATES]]
    more = len(accounts) - MAX_CANDIDATES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "none"


def near_names(requested: str, accounts: list[Account]) -> list[Account]:
    """Accounts whose names start with, contain or closely resemble what was typed, among those
    the bot could use: a directory account is refused whatever it is called, so suggesting one
    would only lead to a second refusal."""
    accounts = [a for a in accounts if a.account_type not in DIRECTORY_ACCOUNTS]
    wanted = requested.casefold()
    by_name = {a.name.casefold(): a for a in accounts}
    close = set(difflib.get_close_matches(wanted, list(by_name), n=MAX_CANDIDATES, cutoff=0.6))
    return [a for a in accounts if wanted in a.name.casefold() or a.name.casefold() in close]


async def choose_account(
    directory: Directory, requested: str | None, default: str | None, *, by_id: bool = False
) -> Account:
    """`by_id`: `requested` is an account ID the bot itself offered (the request form), never a
    name: a name that happens to look like it must not take the request elsewhere."""
    if requested and by_id:
        return usable(await _by_id(directory, requested), "the form")
    if requested:
        return usable(await _by_name(directory, requested), "--account")
    if default:
        accounts, matched = await _find(directory, partial(_named, default))
        if len(matched) == 1:
            return usable(matched[0], "CHIME_DEFAULT_ACCOUNT")
        problem = "matches several accounts" if matched else "matches no account the bot can see"
        raise NotConfigured(
            f"CHIME_DEFAULT_ACCOUNT “{default}” {problem}.",
            hint=f"Use --account <name> for now. Accounts: {_names(matched or accounts)}",
        )
    accounts = await directory.all_accounts()
    active = [a for a in accounts if not a.is_suspended]
    if len(active) == 1 and len(accounts) == 1:
        return usable(active[0], "the only account")
    if not accounts:
        raise NotConfigured("The bot's AWS identity sees no Amazon Chime accounts.")
    if not active:
        raise NotConfigured(
            "Every Amazon Chime account the bot can see is suspended, so no one can be added.",
            hint=f"Accounts: {_names(accounts)}",
        )
    raise InvalidInput(
        "Say which account with --account <name>.", hint=f"Accounts: {_names(active)}"
    )


def usable(account: Account, chosen_by: str) -> Account:
    """The account, if users can be added to it through the bot; else a clear refusal."""
    if account.is_suspended:
        error = NotConfigured if chosen_by == "CHIME_DEFAULT_ACCOUNT" else InvalidInput
        raise error(
            f"The Amazon Chime account “{account.name}” ({account.account_id}) is suspended, "
            "so no users can be added to it. Nothing was filed.",
            hint="Choose another account with --account <name>, or ask an AWS admin to "
            "reactivate it.",
        )
    how = DIRECTORY_ACCOUNTS.get(account.account_type)
    if how is not None:
        raise InvalidInput(
            f"The Amazon Chime account “{account.name}” ({account.account_type}) {how}. "
            "The bot cannot create or invite users there; nothing was filed.",
            hint=GUIDE,
        )
    return account


def _near_hint(requested: str, near: list[Account]) -> str:
    hint = f"Did you mean: {_names(near)}? Give the full name."
    # `--account Example Corp` reads as the account "Example" and a reason starting "Corp".
    spaced = [a.name for a in near if a.name.casefold().startswith(requested.casefold() + " ")]
    if spaced:
        hint += f' A name with spaces goes in quotes: --account "{spaced[0]}"'
    return hint


async def _find(
    directory: Directory, match: Callable[[list[Account]], list[Account]]
) -> tuple[list[Account], list[Account]]:
    """Every account, and those `match` picks; read afresh once if the cached list has none
    and is more than a few seconds old (an account created since is found at once)."""
    everything = await directory.all_accounts()
    found = match(everything)
    if not found:
        fresh = await directory.fresher_accounts()
        if fresh is not None:
            everything, found = fresh, match(fresh)
    return everything, found


def _with_id(account_id: str, accounts: list[Account]) -> list[Account]:
    return [a for a in accounts if a.account_id == account_id]


def _named(requested: str, accounts: list[Account]) -> list[Account]:
    # An account ID is accepted too: it is the way out of two equal names. It is matched
    # first: IDs are unique, and a name can be anything, including another account's ID, so a
    # name matched first could take a request meant for that ID to the other account.
    by_id = _with_id(requested, accounts)
    if by_id:
        return by_id
    wanted = requested.casefold()
    return [a for a in accounts if a.name.casefold() == wanted]


async def _by_id(directory: Directory, requested: str) -> Account:
    _, found = await _find(directory, partial(_with_id, requested))
    if not found:
        raise InvalidInput(
            "That Amazon Chime account is no longer there (or the bot can no longer see it); "
            "nothing was filed.",
            hint="Open the form again and choose another account.",
        )
    return found[0]


async def _by_name(directory: Directory, requested: str) -> Account:
    everything, exact = await _find(directory, partial(_named, requested))
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise InvalidInput(
            f"More than one account is named “{requested}”.",
            hint=f"Give the account ID instead: {_names(exact)}",
        )
    near = near_names(requested, everything)
    if near:
        raise InvalidInput(
            f"No Chime account is named exactly “{requested}”; nothing was filed.",
            hint=_near_hint(requested, near),
        )
    raise InvalidInput(
        f"No Chime account is named “{requested}”; nothing was filed.",
        hint=f"Accounts: {_names(everything)}",
    )
