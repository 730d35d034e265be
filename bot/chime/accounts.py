"""Which Chime account an invite goes to: `--account`, then CHIME_DEFAULT_ACCOUNT, then the only
active account the bot can see. Anything else is a clear error that lists the candidates.

Names are matched here, exactly and case-insensitively, over every page of ListAccounts
(cached briefly by `Directory.all_accounts`). ListAccounts' own `Name` filter is never used: the
model calls it a prefix filter and says nothing of case, so its answer cannot decide a match.
"""

from __future__ import annotations

import difflib

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
    """Accounts whose names start with, contain or closely resemble what was typed."""
    wanted = requested.casefold()
    by_name = {a.name.casefold(): a for a in accounts}
    close = set(difflib.get_close_matches(wanted, list(by_name), n=MAX_CANDIDATES, cutoff=0.6))
    return [a for a in accounts if wanted in a.name.casefold() or a.name.casefold() in close]


async def choose_account(
    directory: Directory, requested: str | None, default: str | None
) -> Account:
    if requested:
        return usable(await _by_name(directory, requested), "--account")
    accounts = await directory.all_accounts()
    if default:
        by_id = [a for a in accounts if a.account_id == default]
        by_name = [a for a in accounts if a.name.casefold() == default.casefold()]
        if by_id:
            return usable(by_id[0], "CHIME_DEFAULT_ACCOUNT")
        if len(by_name) == 1:
            return usable(by_name[0], "CHIME_DEFAULT_ACCOUNT")
        problem = "matches several accounts" if by_name else "matches no account the bot can see"
        raise NotConfigured(
            f"CHIME_DEFAULT_ACCOUNT “{default}” {problem}.",
            hint=f"Use --account <name> for now. Accounts: {_names(by_name or accounts)}",
        )
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


async def _by_name(directory: Directory, requested: str) -> Account:
    # An account ID is accepted too: it is the way out of two equal names.
    everything = await directory.all_accounts()
    wanted = requested.casefold()
    exact = [a for a in everything if a.name.casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise InvalidInput(
            f"More than one account is named “{requested}”.",
            hint=f"Give the account ID instead: {_names(exact)}",
        )
    by_id = [a for a in everything if a.account_id == requested]
    if by_id:
        return by_id[0]
    near = near_names(requested, everything)
    if near:
        raise InvalidInput(
            f"No Chime account is named exactly “{requested}”; nothing was filed.",
            hint=f"Did you mean: {_names(near)}? Give the full name.",
        )
    raise InvalidInput(
        f"No Chime account is named “{requested}”; nothing was filed.",
        hint=f"Accounts: {_names(everything)}",
    )
