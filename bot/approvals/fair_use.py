"""Fair use: how many open requests one person may hold (CHIME_MAX_OPEN_PER_REQUESTER).

The cap is enforced by the store, in the very write that files a request (`RequestStore.file`
with `max_open`: SQLite counts under its write lock, DynamoDB writes the requester's open
filings on condition that nobody changed them since it counted, bot/store/quota.py), so it holds
across restarts and across every replica sharing the store. The count before filing
(`refusal`) only spares the requester the Chime and policy checks when they are at the cap
already; one person's filings also run one at a time in this process (`turn`), so a burst from
one person on one replica does not make the store's conditional writes race each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from weakref import WeakValueDictionary

from bot.cards.base import Reply, error_card
from bot.store import RequestStore


@dataclass
class FairUse:
    store: RequestStore
    max_open: int
    # A lock lives while someone holds or waits for it; idle requesters cost nothing.
    _locks: WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=WeakValueDictionary, init=False, repr=False
    )

    @asynccontextmanager
    async def turn(self, requester: str) -> AsyncIterator[None]:
        """Hold this for the check and the store write of one filing."""
        lock = self._locks.setdefault(requester, asyncio.Lock())
        async with lock:
            yield

    async def refusal(self, requester: str, *, now: float) -> Reply | None:
        """The private reply refusing a new request, or None if this person may file one."""
        held = await self.store.count_open_by_requester(requester, now=now)
        if held < self.max_open:
            return None
        return self.refused(held)

    def refused(self, held: int) -> Reply:
        """The private reply when the store refused a filing at the cap (TooManyOpen)."""
        return error_card(
            "Too many open requests",
            f"You already have {held} open requests, the most one person may have at once. "
            "Nothing was filed.",
            hint="Ask an approver to decide on your open requests, then file this one again.",
        )
