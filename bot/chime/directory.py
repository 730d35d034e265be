"""`Directory`: the narrow async interface the handlers need to Amazon Chime, and its caches.

It speaks Chime's operations (lookups, accounts, CreateUser, InviteUsers, and the user
lifecycle: suspend, unsuspend, sign out, PIN reset, license change, from
`bot.chime.lifecycle_calls`) and remembers where
users and accounts are, so that a warm lookup is one call. Every call goes through one `Calls`
engine (`bot.chime.calls`: bounds, deadlines, retries, circuit breaker); the client comes from
`bot.chime.client`, the parallel cold lookup is `bot.chime.lookup`, and what a failure means is
`bot.chime.errors`.

CreateUser is not idempotent: `send_create_user` never repeats it after an answer that leaves
its effect unknown; `bot.chime.create_once` looks the email up first.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from bot.chime.calls import RetryPolicy
from bot.chime.lifecycle_calls import UserLifecycle
from bot.chime.lookup import cold_lookup
from bot.errors import ChimeNotFound, ChimeUnavailable
from bot.models import Account, ChimeUser, InviteResult, UserRecord, UserType

# How long the account list is reused when matching an --account name.
ACCOUNT_LIST_TTL = 30.0
# A name or ID missing from a list read longer ago than this is looked for once more in a fresh
# one (`fresher_accounts`): an account created a moment ago is found, and a typo repeated costs
# at most one ListAccounts per this many seconds.
ACCOUNT_RECHECK_AFTER = 5.0


@dataclass
class _CacheEntry:
    account: Account
    user_id: str
    expires: float


# Enough for any real directory's active lookups; the oldest entry goes first beyond it.
MAX_CACHED_EMAILS = 10_000
MAX_SEEN_ACCOUNTS = 1_000


@dataclass
class Directory(UserLifecycle):
    """`client` and `calls` are `UserLifecycle`'s fields (bot.chime.lifecycle_calls)."""

    account_cache_ttl: float = 300.0
    account_list_ttl: float = ACCOUNT_LIST_TTL
    # A cold lookup searches the accounts it knows at once when there are at most this many
    # (bot.chime.lookup); 0 turns the parallel search off.
    parallel_accounts: int = 5
    _cache: dict[str, _CacheEntry] = field(default_factory=dict)
    _accounts: tuple[float, list[Account]] | None = None
    _accounts_read_at: float = 0.0  # monotonic time the cached list was asked for
    # Account ID -> (expires, account): where a cold lookup searches in parallel (bot.chime.lookup).
    _seen: dict[str, tuple[float, Account]] = field(default_factory=dict)
    _paginators: dict[str, Any] = field(default_factory=dict)

    # ---- what the handlers use -------------------------------------------------------------

    def one_budget(self) -> AbstractContextManager[None]:
        """Interactive calls made inside share one budget, counted from now: a user waits for
        all of them together."""
        return self.calls.one_budget()

    async def find_user(self, email: str) -> UserRecord | None:
        """The Chime user with this email, with the account that holds them, or None."""
        with self.one_budget():
            return await self._find_user(email)

    async def _find_user(self, email: str) -> UserRecord | None:
        cached = self._cached(email)
        if cached is not None:
            record = await self._refresh(cached, email)
            if record is not None:
                return record
            # The user moved or left since we cached where they are: look again from the top.
            self._cache.pop(email, None)
        record = await cold_lookup(self, email, parallel=self.parallel_accounts)
        if record is not None:
            self._remember(email, record)
        return record

    async def list_accounts(
        self, *, name: str | None = None, user_email: str | None = None, patient: bool = False
    ) -> list[Account]:
        """`patient`: an approval's read, under CHIME_RETRY_BUDGET; else a user waits on it."""
        params: dict[str, Any] = {}
        if name is not None:
            params["Name"] = name
        if user_email is not None:
            params["UserEmail"] = user_email
        policy = self.calls.retry if patient else self.calls.interactive
        raw = await self._paginate(
            "ListAccounts", "list_accounts", "Accounts", policy=policy, **params
        )
        return [Account.from_api(a) for a in raw]

    async def all_accounts(self, *, patient: bool = False) -> list[Account]:
        """Every account the bot can see, every page, reused for `account_list_ttl` seconds."""
        now = self.calls.clock.monotonic()
        if self._accounts is not None and self._accounts[0] > now:
            return list(self._accounts[1])
        accounts = await self.list_accounts(patient=patient)
        if self.account_list_ttl > 0:
            self._accounts = (now + self.account_list_ttl, accounts)
            self._accounts_read_at = now
        return list(accounts)

    async def fresher_accounts(self, *, patient: bool = False) -> list[Account] | None:
        """The account list read afresh if the cached one is older than
        ACCOUNT_RECHECK_AFTER seconds, else None (nothing newer to learn): for a name or ID
        the cached list does not hold, before refusing it."""
        now = self.calls.clock.monotonic()
        if self._accounts is None or now - self._accounts_read_at <= ACCOUNT_RECHECK_AFTER:
            return None
        accounts = await self.list_accounts(patient=patient)  # a failure keeps the old list
        self._accounts = (now + self.account_list_ttl, accounts)
        self._accounts_read_at = now
        return list(accounts)

    def known_accounts(self, limit: int) -> list[Account] | None:
        """The accounts ListAccounts(UserEmail) named in the last `account_cache_ttl` seconds,
        oldest first; None when there are more than `limit` (or none)."""
        seen, now = self._seen, self.calls.clock.monotonic()
        # Entries are re-inserted when seen again, so the dict is in expiry order.
        while seen and next(iter(seen.values()))[0] <= now:
            del seen[next(iter(seen))]
        if not seen or len(seen) > limit:
            return None
        return [account for _, account in seen.values()]

    def saw_accounts(self, accounts: list[Account]) -> None:
        if self.account_cache_ttl <= 0:
            return
        expires = self.calls.clock.monotonic() + self.account_cache_ttl
        for account in accounts:
            self._seen.pop(account.account_id, None)
            self._seen[account.account_id] = (expires, account)
        while len(self._seen) > MAX_SEEN_ACCOUNTS:
            del self._seen[next(iter(self._seen))]

    async def account_by_id(self, account_id: str, *, patient: bool = False) -> Account | None:
        accounts = await self.all_accounts(patient=patient)
        return next((a for a in accounts if a.account_id == account_id), None)

    async def send_create_user(
        self, account: Account, email: str, user_type: UserType, *, started: float
    ) -> ChimeUser:
        """One CreateUser, sent again only while Chime refuses it outright (throttling, no
        connection made). An answer that leaves its effect unknown is raised
        (`ChimeUnavailable.effect_unknown`) for `bot.chime.create_once` to settle by looking
        first."""
        raw = await self.calls.run(
            "CreateUser",
            lambda: self.client.create_user(
                AccountId=account.account_id, Email=email, UserType=user_type.value
            ),
            self.calls.retry,
            idempotent=False,
            started=started,
        )
        user = raw.get("User") if isinstance(raw, dict) else None
        if not isinstance(user, dict) or not user.get("UserId"):
            raise ChimeUnavailable(
                "CreateUser",
                "Amazon Chime's reply to CreateUser could not be read.",
                code="UnreadableReply",
                effect_unknown=True,
            )
        return ChimeUser.from_api(user)

    async def invite_user(self, account: Account, email: str, user_type: UserType) -> InviteResult:
        return (await self.invite_users(account, [email], user_type))[email.lower()]

    async def invite_users(
        self, account: Account, emails: list[str], user_type: UserType
    ) -> dict[str, InviteResult]:
        """One InviteUsers call for up to 50 addresses (the model's UserEmailList max); each
        address (lower-cased) with the Invite Chime returned for it, or an empty InviteResult
        if it returned none."""
        # Retried even after an answer that leaves the effect unknown: inviting again changes
        # nothing in the account (the user stays pending) and at worst sends a second email,
        # while only an answer tells whether the invitation and its email went out.
        raw = await self.calls.run(
            "InviteUsers",
            lambda: self.client.invite_users(
                AccountId=account.account_id, UserEmailList=emails, UserType=user_type.value
            ),
            self.calls.retry,
        )
        invites = [i for i in raw.get("Invites") or [] if isinstance(i, dict)]
        by_email = {str(i.get("EmailAddress", "")).lower(): i for i in invites}
        found: dict[str, InviteResult] = {}
        for email in emails:
            # The model does not say every Invite names its address: for one address, the
            # one invite is its own.
            invite = by_email.get(email.lower()) or (
                invites[0] if len(emails) == 1 and invites else {}
            )
            found[email.lower()] = InviteResult(
                invite.get("InviteId", ""), invite.get("Status"), invite.get("EmailStatus")
            )
        return found

    async def ping(self) -> None:
        """One cheap authorized call: proves reachability and permission."""
        await self._call("ListAccounts", "list_accounts", MaxResults=1)

    async def user_in(
        self, account: Account, email: str, *, patient: bool = False
    ) -> UserRecord | None:
        """The user with this email in one account, or None. `patient`: an approval's budget."""
        policy = self.calls.retry if patient else self.calls.interactive
        user_id = await self.search(account, email, policy)
        return None if user_id is None else await self.detail(account, user_id, policy)

    async def search(
        self, account: Account, email: str, policy: RetryPolicy | None = None
    ) -> str | None:
        """ListUsers(UserEmail) in one account: the matching user's ID, or None."""
        try:
            users = await self._paginate(
                "ListUsers",
                "list_users",
                "Users",
                policy=policy,
                AccountId=account.account_id,
                UserEmail=email,
            )
        except ChimeNotFound:
            return None  # the account itself is gone
        match = next((u for u in users if u.get("PrimaryEmail", "").lower() == email.lower()), None)
        return None if match is None else str(match["UserId"])

    async def detail(
        self, account: Account, user_id: str, policy: RetryPolicy | None = None
    ) -> UserRecord:
        """GetUser: the user's full record."""
        detail = await self._call(
            "GetUser", "get_user", policy=policy, AccountId=account.account_id, UserId=user_id
        )
        return UserRecord(account=account, user=ChimeUser.from_api(detail["User"]))

    # ---- internals -------------------------------------------------------------------------

    def _cached(self, email: str) -> _CacheEntry | None:
        entry = self._cache.get(email)
        if entry is None:
            return None
        if entry.expires <= self.calls.clock.monotonic():
            del self._cache[email]
            return None
        return entry

    def _remember(self, email: str, record: UserRecord) -> None:
        if self.account_cache_ttl <= 0:
            return
        cache = self._cache
        cache.pop(email, None)
        while len(cache) >= MAX_CACHED_EMAILS:
            del cache[next(iter(cache))]
        expires = self.calls.clock.monotonic() + self.account_cache_ttl
        cache[email] = _CacheEntry(record.account, record.user.user_id, expires)

    async def _refresh(self, entry: _CacheEntry, email: str) -> UserRecord | None:
        """Fresh details for a cached user in one call; None if they are gone or changed."""
        try:
            detail = await self._call(
                "GetUser", "get_user", AccountId=entry.account.account_id, UserId=entry.user_id
            )
        except ChimeNotFound:
            return None
        user = ChimeUser.from_api(detail["User"])
        return UserRecord(entry.account, user) if user.email.lower() == email else None

    async def _paginate(
        self,
        operation: str,
        method: str,
        key: str,
        policy: RetryPolicy | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        async def collect() -> list[dict[str, Any]]:
            paginator = self._paginators.get(method)
            if paginator is None:
                # Building one reads the paginator model and deep-copies its config: ~2% of
                # the CPU per lookup when done per call. A paginator keeps no state of its own.
                paginator = self._paginators[method] = self.client.get_paginator(method)
            items: list[dict[str, Any]] = []
            async for page in paginator.paginate(**params):
                items.extend(page.get(key, []))
            return items

        return await self.calls.run(operation, collect, policy or self.calls.interactive)

    async def _call(
        self, operation: str, method: str, policy: RetryPolicy | None = None, **params: Any
    ) -> dict[str, Any]:
        fn = getattr(self.client, method)
        return await self.calls.run(
            operation, lambda: fn(**params), policy or self.calls.interactive
        )
