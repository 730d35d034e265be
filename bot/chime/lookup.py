"""A cold lookup (the email is not cached): which account holds the user, then their details.

The data dependency is ListAccounts(UserEmail) -> ListUsers(AccountId, UserEmail) -> GetUser.
The middle step needs only an account ID, so once the bot knows where users live it searches
those accounts at the same moment as ListAccounts(UserEmail): two sequential round trips
instead of three. The accounts it knows are the ones ListAccounts(UserEmail) named in the last
CHIME_ACCOUNT_CACHE_TTL seconds (`Directory.known_accounts`): learnt from lookups, so they cost
no extra call, and they are where the next user most likely is. The search covers at most
CHIME_LOOKUP_PARALLEL_ACCOUNTS of them (each is one more ListUsers per lookup); with more, or
before any lookup has named one, a lookup takes the sequential path.

The answer is exactly the sequential one. ListAccounts(UserEmail) still decides which accounts
hold the user and in which order they are tried: a search result from an account it does not
name is discarded, and a named account that was not searched is searched then, as before.
Whether Chime's two indexes can disagree for a moment (a user just added, moved or removed)
the Chime API reference does not say; either way the bot shows only what both agree on.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.models import Account, UserRecord


class Searchable(Protocol):
    """What a cold lookup asks of the directory (`bot.chime.directory.Directory`)."""

    def known_accounts(self, limit: int) -> list[Account] | None: ...

    def saw_accounts(self, accounts: list[Account]) -> None: ...

    async def list_accounts(self, *, user_email: str | None = None) -> list[Account]: ...

    async def search(self, account: Account, email: str) -> str | None: ...

    async def detail(self, account: Account, user_id: str) -> UserRecord: ...


async def cold_lookup(directory: Searchable, email: str, *, parallel: int) -> UserRecord | None:
    """`parallel`: search the known accounts at once when there are at most this many."""
    known = directory.known_accounts(parallel)
    if known is not None:
        return await _parallel(directory, known, email)
    holders = await directory.list_accounts(user_email=email)
    directory.saw_accounts(holders)
    return await _first_match(directory, holders, email, {})


async def _parallel(directory: Searchable, known: list[Account], email: str) -> UserRecord | None:
    searches = {a.account_id: asyncio.create_task(directory.search(a, email)) for a in known}
    try:
        holders = await directory.list_accounts(user_email=email)
        directory.saw_accounts(holders)
        # Searches in accounts that do not hold the user cannot change the answer.
        confirmed = {a.account_id for a in holders}
        for account_id, task in searches.items():
            if account_id not in confirmed:
                task.cancel()
        return await _first_match(directory, holders, email, searches)
    finally:
        for task in searches.values():
            task.cancel()
        # Collect every outcome so none is reported as "never retrieved".
        await asyncio.gather(*searches.values(), return_exceptions=True)


async def _first_match(
    directory: Searchable,
    holders: list[Account],
    email: str,
    searches: dict[str, asyncio.Task[str | None]],
) -> UserRecord | None:
    """The user in the first account ListAccounts(UserEmail) named where ListUsers finds them."""
    for account in holders:
        task = searches.get(account.account_id)
        user_id = await task if task is not None else await directory.search(account, email)
        if user_id is not None:
            return await directory.detail(account, user_id)
    return None
