"""Work that runs after the ack, tracked so shutdown can wait for it and bounded so a flood of
commands cannot queue without limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chime_bot.jobs")


class Jobs:
    # Room kept above `limit` for short "busy" notices, so a full bot still answers every click.
    NOTICE_RESERVE = 64

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> bool:
        """Start `work` now; False (and `work` discarded) when full or shutting down."""
        return self._start(work, name, self.limit)

    def spawn_notice(self, work: Coroutine[Any, Any, Any], name: str) -> bool:
        return self._start(work, name, self.limit + self.NOTICE_RESERVE)

    def _start(self, work: Coroutine[Any, Any, Any], name: str, limit: int) -> bool:
        if self._closed or len(self._tasks) >= limit:
            work.close()
            log.warning("no room for %s: %d jobs in flight", name, len(self._tasks))
            return False
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[Any]) -> None:
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
