"""Which Chime account an invite goes to: `--account`, then CHIME_DEFAULT_ACCOUNT, then the only
account the bot can see. Anything else is a clear error that lists the candidates."""

from __future__ import annotations

from bot.chime import Directory
from bot.errors import InvalidInput, NotConfigured
from bot.models import Account

MAX_CANDIDATES = 10


def _names(accounts: list[Account]) -> str:
    shown = [f"{a.name} ({a.account_id})" for a in accounts[:MAX_CANDIDATES]]
    more = len(accounts) - MAX_CANDIDATES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "none"


async def choose_account(
    directory: Directory, requested: str | None, default: str | None
) -> Account:
    if requested:
        return await _by_name(directory, requested)
    if default:
        accounts = await directory.list_accounts()
        by_id = [a for a in accounts if a.account_id == default]
        by_name = [a for a in accounts if a.name.casefold() == default.casefold()]
        if by_id:
            return by_id[0]
        if len(by_name) == 1:
            return by_name[0]
        problem = "matches several accounts" if by_name else "matches no account the bot can see"
        raise NotConfigured(
            f"CHIME_DEFAULT_ACCOUNT “{default}” {problem}.",
            hint=f"Use --account <name> for now. Accounts: {_names(by_name or accounts)}",
        )
    accounts = await directory.list_accounts()
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise NotConfigured("The bot's AWS identity sees no Amazon Chime accounts.")
    raise InvalidInput(
        "Say which account with --account <name>.", hint=f"Accounts: {_names(accounts)}"
    )


async def _by_name(directory: Directory, requested: str) -> Account:
    # ListAccounts' name filter is not an exact match, so the exact (case-insensitive) match is
    # decided here. An account ID is accepted too: it is the way out of two equal names.
    found = await directory.list_accounts(name=requested)
    exact = [a for a in found if a.name.casefold() == requested.casefold()]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise InvalidInput(
            f"More than one account is named “{requested}”.",
            hint=f"Give the account ID instead: {_names(exact)}",
        )
    everything = await directory.list_accounts()
    by_id = [a for a in everything if a.account_id == requested]
    if by_id:
        return by_id[0]
    raise InvalidInput(
        f"No Chime account is named “{requested}”.", hint=f"Accounts: {_names(found or everything)}"
    )
