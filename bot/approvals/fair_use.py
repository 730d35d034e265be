"""Fair use: how many open requests one person may hold (CHIME_MAX_OPEN_PER_REQUESTER).

The count comes from the store, so it holds across restarts and replicas. One person's filings
run one at a time in this process, from the count to the store write, so a burst of commands
cannot all pass the check before any is stored. Across replicas the cap can be passed by at
most one request per replica that files for the same person at the same instant.
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
        return error_card(
            "Too many open requests",
            f"You already have {held} open requests, the most one person may have at once. "
            "Nothing was filed.",
            hint="Ask an approver to decide on your open requests, then file this one again.",
        )
