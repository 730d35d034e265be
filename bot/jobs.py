"""Work that runs after the ack, tracked so shutdown can wait for it and bounded so a flood of
commands cannot queue without limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chime_bot.jobs")


class Jobs:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> bool:
        """Start `work` now; False (and `work` discarded) when full or shutting down."""
        if self._closed or len(self._tasks) >= self.limit:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Jobs report their own failures to the user; this is the last-resort log line.
            log.error("job %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float) -> bool:
        """Stop taking work and wait up to `timeout` s for what is running; True if all ended."""
        self._closed = True
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)
        return not pending
