"""`Directory`: the narrow async interface the handlers need, over aiobotocore's Chime client.

aiobotocore runs botocore's serialization, signing and parsing on the event loop with aiohttp
for the HTTP: no threads, and `make bench` measured it at about half the CPU per lookup of
boto3 on a thread pool (bench/results/clients.json). In-flight calls are bounded by a semaphore
sized like the connection pool.

Retries are ours, not botocore's: botocore's `standard` mode retries 500/503 but not Chime's
`ThrottledClientException` (429), and two retry layers would multiply each other's budget. So
the client makes exactly one attempt and `Directory` retries the errors Chime documents as
transient, with capped exponential backoff and full jitter inside one time budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.utils import parse_timestamp

from bot.errors import (
    ChimeConflict,
    ChimeError,
    ChimeNotFound,
    ChimePermissionDenied,
    ChimeRejected,
    ChimeUnavailable,
)
from bot.models import Account, ChimeUser, InviteResult, UserRecord, UserType

log = logging.getLogger("chime_bot.chime")
T = TypeVar("T")

# Chime's account API is global: every commercial region resolves to this one endpoint, and
# requests must be signed for it. AWS_ENDPOINT_URL_CHIME (read by botocore) overrides the URL.
CHIME_REGION = "us-east-1"

TRANSIENT_CODES = frozenset(
    {"ThrottledClientException", "ServiceUnavailableException", "ServiceFailureException"}
)
PERMISSION_CODES = frozenset(
    {"ForbiddenException", "UnauthorizedClientException", "AccessDeniedException"}
)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> float:
        """Wall-clock epoch seconds, for timestamps that are stored and shown."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    budget: float = 20.0  # seconds from the first attempt; no new attempt starts after it
    base: float = 0.25
    cap: float = 4.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        # Full jitter (AWS Architecture Blog): spreads a burst of throttled callers apart.
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


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


@dataclass
class Directory:
    client: Any
    limit: asyncio.Semaphore
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = field(default_factory=RealClock)
    rng: random.Random = field(default_factory=random.Random)
    account_cache_ttl: float = 300.0
    observe: CallObserver | None = None
    _cache: dict[str, _CacheEntry] = field(default_factory=dict)

    # ---- what the handlers use -------------------------------------------------------------

    async def find_user(self, email: str) -> UserRecord | None:
        """The Chime user with this email, with the account that holds them, or None."""
        cached = self._cached(email)
        if cached is not None:
            record = await self._refresh(cached, email)
            if record is not None:
                return record
            # The user moved or left since we cached where they are: look again from the top.
            self._cache.pop(email, None)
        accounts = await self.list_accounts(user_email=email)
        for account in accounts:
            record = await self.user_in(account, email)
            if record is not None:
                self._remember(email, record)
                return record
        return None

    async def list_accounts(
        self, *, name: str | None = None, user_email: str | None = None
    ) -> list[Account]:
        params: dict[str, Any] = {}
        if name is not None:
            params["Name"] = name
        if user_email is not None:
            params["UserEmail"] = user_email
        raw = await self._paginate("ListAccounts", "list_accounts", "Accounts", **params)
        return [Account.from_api(a) for a in raw]

    async def create_user(self, account: Account, email: str, user_type: UserType) -> ChimeUser:
        raw = await self._call(
            "CreateUser",
            "create_user",
            AccountId=account.account_id,
            Email=email,
            UserType=user_type.value,
        )
        return ChimeUser.from_api(raw["User"])

    async def invite_user(self, account: Account, email: str, user_type: UserType) -> InviteResult:
        raw = await self._call(
            "InviteUsers",
            "invite_users",
            AccountId=account.account_id,
            UserEmailList=[email],
            UserType=user_type.value,
        )
        invites = raw.get("Invites") or [{}]
        first = invites[0]
        return InviteResult(
            first.get("InviteId", ""), first.get("Status"), first.get("EmailStatus")
        )

    async def ping(self) -> None:
        """One cheap authorized call: proves reachability and permission."""
        await self._call("ListAccounts", "list_accounts", MaxResults=1)

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

    async def user_in(self, account: Account, email: str) -> UserRecord | None:
        """The user with this email in one account, or None."""
        try:
            users = await self._paginate(
                "ListUsers", "list_users", "Users", AccountId=account.account_id, UserEmail=email
            )
        except ChimeNotFound:
            return None  # the account itself is gone
        match = next((u for u in users if u.get("PrimaryEmail", "").lower() == email), None)
        if match is None:
            return None
        detail = await self._call(
            "GetUser", "get_user", AccountId=account.account_id, UserId=match["UserId"]
        )
        return UserRecord(account=account, user=ChimeUser.from_api(detail["User"]))

    async def _paginate(
        self, operation: str, method: str, key: str, **params: Any
    ) -> list[dict[str, Any]]:
        async def collect() -> list[dict[str, Any]]:
            paginator = self.client.get_paginator(method)
            items: list[dict[str, Any]] = []
            async for page in paginator.paginate(**params):
                items.extend(page.get(key, []))
            return items

        return await self._with_retries(operation, collect)

    async def _call(self, operation: str, method: str, **params: Any) -> dict[str, Any]:
        fn = getattr(self.client, method)
        return await self._with_retries(operation, lambda: fn(**params))

    async def _with_retries(self, operation: str, work: Callable[[], Awaitable[T]]) -> T:
        started = self.clock.monotonic()
        attempt = 0
        while True:
            try:
                async with self.limit:
                    result = await work()
            except (ClientError, BotoCoreError) as exc:
                error = _classify(operation, exc)
                self._observed(operation, getattr(error, "code", "") or type(exc).__name__)
                if not isinstance(error, ChimeUnavailable):
                    raise error from exc
                delay = self.retry.backoff(attempt, self.rng)
                elapsed = self.clock.monotonic() - started
                if elapsed + delay >= self.retry.budget:
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
                self._observed(operation, "ok")
                return result

    def _observed(self, operation: str, outcome: str) -> None:
        if self.observe is not None:
            self.observe(operation, outcome)


def _classify(operation: str, exc: Exception) -> ChimeError:
    """Map a botocore failure to the bot's taxonomy; transient ones become ChimeUnavailable."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or code
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in TRANSIENT_CODES or status in (500, 502, 503, 504):
            return ChimeUnavailable(operation, f"{operation} failed: {code or status}.", code=code)
        if code in PERMISSION_CODES:
            return ChimePermissionDenied(operation, message, code=code)
        if code == "NotFoundException":
            return ChimeNotFound(operation, message, code=code)
        if code == "ConflictException":
            return ChimeConflict(operation, message, code=code)
        if code == "BadRequestException":
            return ChimeRejected(operation, f"Amazon Chime said: {message}", code=code)
        return ChimeRejected(operation, f"Amazon Chime said {code}: {message}", code=code)
    if isinstance(exc, NoCredentialsError):
        return ChimePermissionDenied(operation, "no AWS credentials found", code="NoCredentials")
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return ChimeUnavailable(
            operation,
            f"Could not reach Amazon Chime ({type(exc).__name__}).",
            code=type(exc).__name__,
        )
    return ChimeRejected(operation, f"The AWS SDK refused the call: {exc}", code=type(exc).__name__)
