"""`Directory`: the narrow async interface the handlers need, over aiobotocore's Chime client.

aiobotocore runs botocore's serialization, signing and parsing on the event loop with aiohttp
for the HTTP: no threads, and `make bench` measured it at about half the CPU per lookup of
boto3 on a thread pool (bench/results/clients.json). In-flight calls are bounded by a semaphore
sized like the connection pool.

Retries are ours, not botocore's: botocore's `standard` mode retries 500/503 but not Chime's
`ThrottledClientException` (429), and two retry layers would multiply each other's budget. So
the client makes exactly one attempt and `Directory` retries by error class
(`bot.chime.errors`), with capped exponential backoff and full jitter inside one deadline: a
short one for what a user waits on (lookups, filing), a longer one for approvals. Every call
goes through one circuit breaker (`bot.chime.breaker`), so an outage is answered at once.

CreateUser is not idempotent: `send_create_user` never repeats it after an answer that leaves
its effect unknown; `bot.chime.create_once` looks the email up first.

One module because the retries, budget, breaker and cache must wrap every call the same way;
the parallel cold lookup is in bot/chime/lookup.py and error classes in bot/chime/errors.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from botocore.utils import parse_timestamp

from bot.backoff import backoff
from bot.chime.breaker import BreakerState, CircuitBreaker
from bot.chime.errors import classify, is_outage
from bot.chime.lookup import cold_lookup
from bot.clock import Clock, RealClock
from bot.errors import (
    CREDENTIALS_FIX,
    ChimeCircuitOpen,
    ChimeCredentials,
    ChimeNotFound,
    ChimeUnavailable,
)
from bot.models import Account, ChimeUser, InviteResult, UserRecord, UserType

log = logging.getLogger("chime_bot.chime")
T = TypeVar("T")

# Chime's account API is global: every commercial region resolves to this one endpoint, and
# requests must be signed for it. AWS_ENDPOINT_URL_CHIME (read by botocore) overrides the URL.
CHIME_REGION = "us-east-1"

# What a user waits on (a lookup, filing a request) must be answered within 8 s even in an
# outage: 6 s of retries leave room for the last attempt and the reply. An approval runs
# behind a "working" card and may wait longer for Chime (CHIME_RETRY_BUDGET).
INTERACTIVE_BUDGET = 6.0
# How long the account list is reused when matching an --account name.
ACCOUNT_LIST_TTL = 30.0
# When set, the moment a user started waiting: every interactive call inside `one_budget`
# shares one deadline, so a lookup of three calls cannot take three budgets.
_SHARED_START: ContextVar[float | None] = ContextVar("chime_shared_start", default=None)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    budget: float = 20.0  # seconds from the first attempt; no new attempt starts after it
    base: float = 0.25
    cap: float = 4.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        # Full jitter: spreads a burst of throttled callers apart.
        return backoff(attempt, base=self.base, cap=self.cap, rng=rng)


CallObserver = Callable[[str, str], None]  # (operation, outcome code or "ok")


@asynccontextmanager
async def chime_client(
    *,
    max_pool_connections: int,
    credentials: dict[str, str] | None = None,
    read_timeout: float = 10.0,
) -> AsyncIterator[Any]:
    """A Chime client that makes one attempt per call; `Directory` owns the retries.

    `credentials` (aws_access_key_id, aws_secret_access_key) replace the standard chain, for
    the offline emulator. The endpoint comes from AWS_ENDPOINT_URL_CHIME when it is set.
    """
    config = Config(
        region_name=CHIME_REGION,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
        connect_timeout=3,
        read_timeout=read_timeout,
        # botocore's client-side check of every parameter against the model was ~3% of the
        # bot's CPU per lookup (cProfile, bench/results/profile-*). The bot builds every
        # parameter itself from input it has validated, and Chime validates them again: a
        # BadRequestException is answered like any other rejection.
        parameter_validation=False,
    )
    keys = {k: v for k, v in (credentials or {}).items() if k.startswith("aws_")}
    session = get_session()
    # dateutil's general parser was ~6% of the bot's CPU per lookup (py-spy); Chime's
    # timestamps are ISO 8601, which datetime parses natively.
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_parse_iso_timestamp
    )
    async with session.create_client("chime", config=config, **keys) as client:
        _keep_user_agent_static(client)
        yield client


def _parse_iso_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        # Epoch seconds or another form: botocore's own parser.
        fallback: datetime = parse_timestamp(value)
        return fallback
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _keep_user_agent_static(client: Any) -> None:
    """Build the User-Agent header once instead of twice per request.

    botocore renders it for every request and renders it again just before sending, to refresh
    SDK feature tags; that was 15-20% of the bot's CPU per lookup under load (py-spy, `make
    bench`). The string rendered once stays a valid header. botocore keeps the renderer on a
    private attribute, so this is best effort and changes nothing if the attribute moves.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if creator is None:
        return
    rendered = creator.to_string()
    creator.to_string = lambda: rendered


@dataclass
class _CacheEntry:
    account: Account
    user_id: str
    expires: float


# Enough for any real directory's active lookups; the oldest entry goes first beyond it.
MAX_CACHED_EMAILS = 10_000
MAX_SEEN_ACCOUNTS = 1_000


@dataclass
class Directory:
    client: Any
    limit: asyncio.Semaphore
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # approvals: CreateUser, InviteUsers
    clock: Clock = field(default_factory=RealClock)
    rng: random.Random = field(default_factory=random.Random)
    account_cache_ttl: float = 300.0
    observe: CallObserver | None = None
    # What users wait on: lookups and filing (see INTERACTIVE_BUDGET).
    interactive: RetryPolicy = field(default_factory=lambda: RetryPolicy(INTERACTIVE_BUDGET))
    breaker: CircuitBreaker | None = None
    account_list_ttl: float = ACCOUNT_LIST_TTL
    # A cold lookup searches the accounts it knows at once when there are at most this many
    # (bot.chime.lookup); 0 turns the parallel search off.
    parallel_accounts: int = 5
    _cache: dict[str, _CacheEntry] = field(default_factory=dict)
    _accounts: tuple[float, list[Account]] | None = None
    # Account ID -> (expires, account): where a cold lookup searches in parallel (bot.chime.lookup).
    _seen: dict[str, tuple[float, Account]] = field(default_factory=dict)
    _paginators: dict[str, Any] = field(default_factory=dict)

    # ---- what the handlers use -------------------------------------------------------------

    @contextmanager
    def one_budget(self) -> Iterator[None]:
        """Interactive calls made inside share one budget, counted from now: a user waits for
        all of them together."""
        token = (
            None if _SHARED_START.get() is not None else _SHARED_START.set(self.clock.monotonic())
        )
        try:
            yield
        finally:
            if token is not None:
                _SHARED_START.reset(token)

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
        record = await cold_lookup(self, email)
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
        policy = self.retry if patient else self.interactive
        raw = await self._paginate(
            "ListAccounts", "list_accounts", "Accounts", policy=policy, **params
        )
        return [Account.from_api(a) for a in raw]

    async def all_accounts(self, *, patient: bool = False) -> list[Account]:
        """Every account the bot can see, every page, reused for `account_list_ttl` seconds."""
        now = self.clock.monotonic()
        if self._accounts is not None and self._accounts[0] > now:
            return list(self._accounts[1])
        accounts = await self.list_accounts(patient=patient)
        if self.account_list_ttl > 0:
            self._accounts = (now + self.account_list_ttl, accounts)
        return list(accounts)

    def known_accounts(self, limit: int) -> list[Account] | None:
        """The accounts ListAccounts(UserEmail) named in the last `account_cache_ttl` seconds,
        oldest first; None when there are more than `limit` (or none)."""
        seen, now = self._seen, self.clock.monotonic()
        # Entries are re-inserted when seen again, so the dict is in expiry order.
        while seen and next(iter(seen.values()))[0] <= now:
            del seen[next(iter(seen))]
        if not seen or len(seen) > limit:
            return None
        return [account for _, account in seen.values()]

    def saw_accounts(self, accounts: list[Account]) -> None:
        if self.account_cache_ttl <= 0:
            return
        expires = self.clock.monotonic() + self.account_cache_ttl
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
        raw = await self._with_retries(
            "CreateUser",
            lambda: self.client.create_user(
                AccountId=account.account_id, Email=email, UserType=user_type.value
            ),
            self.retry,
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
        raw = await self._with_retries(
            "InviteUsers",
            lambda: self.client.invite_users(
                AccountId=account.account_id, UserEmailList=emails, UserType=user_type.value
            ),
            self.retry,
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
        policy = self.retry if patient else self.interactive
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
        if entry.expires <= self.clock.monotonic():
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
        expires = self.clock.monotonic() + self.account_cache_ttl
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

        return await self._with_retries(operation, collect, policy or self.interactive)

    async def _call(
        self, operation: str, method: str, policy: RetryPolicy | None = None, **params: Any
    ) -> dict[str, Any]:
        fn = getattr(self.client, method)
        return await self._with_retries(operation, lambda: fn(**params), policy or self.interactive)

    async def _with_retries(
        self,
        operation: str,
        work: Callable[[], Awaitable[T]],
        policy: RetryPolicy,
        *,
        idempotent: bool = True,
        started: float | None = None,
    ) -> T:
        """Run `work` until it succeeds or fails for good, within `policy.budget` of `started`.

        Throttling and connections never made are retried for every operation; other outage
        failures only for `idempotent` ones (the rest is the caller's to settle).
        """
        if started is None and policy is self.interactive:
            started = _SHARED_START.get()
        started = self.clock.monotonic() if started is None else started
        attempt = 0
        while True:
            breaker = self.breaker
            if breaker is not None and not breaker.admit():
                self._observed(operation, "CircuitOpen")
                raise ChimeCircuitOpen(operation, breaker.retry_in())
            remaining = policy.budget - (self.clock.monotonic() - started)
            try:
                async with self.limit:
                    # A read that outlives the deadline is cut short; a write is left to its
                    # socket timeout, because cutting it short would only make its effect unknown.
                    async with asyncio.timeout(max(remaining, 0.5) if idempotent else None):
                        result = await work()
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.abandoned()
                raise
            except (TimeoutError, ClientError, BotoCoreError, ResponseParserError) as exc:
                error = classify(operation, exc)
                self._observed(operation, error.code or type(exc).__name__)
                if breaker is not None:
                    breaker.failed() if is_outage(error) else breaker.answered()
                if isinstance(error, ChimeCredentials):
                    log.error(
                        "AWS credentials for Chime are missing, invalid or expired (%s on %s). %s",
                        error.code,
                        operation,
                        CREDENTIALS_FIX,
                    )
                if not isinstance(error, ChimeUnavailable):
                    raise error from exc
                if error.effect_unknown and not idempotent:
                    raise error from exc
                delay = policy.backoff(attempt, self.rng)
                elapsed = self.clock.monotonic() - started
                given_up = breaker is not None and breaker.state == BreakerState.OPEN
                if given_up or elapsed + delay >= policy.budget:
                    log.warning(
                        "giving up on %s after %d attempts in %.1fs: %s",
                        operation,
                        attempt + 1,
                        elapsed,
                        error.code,
                    )
                    raise error from exc
                attempt += 1
                log.info(
                    "retrying %s after %s (attempt %d, waiting %.2fs)",
                    operation,
                    error.code,
                    attempt + 1,
                    delay,
                )
                await self.clock.sleep(delay)
            else:
                if breaker is not None:
                    breaker.answered()
                self._observed(operation, "ok")
                return result

    def _observed(self, operation: str, outcome: str) -> None:
        if self.observe is not None:
            self.observe(operation, outcome)
