"""Work that runs after the ack, tracked so shutdown can wait for it and bounded so a flood of
commands cannot queue without limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chime_bot.jobs")


class AckFirst:
    """Holds background work back while Slack requests are being acked.

    Acks have a hard 3 s deadline and cards do not. During a burst, Chime work started at once
    competes with the acks still to be sent, for the GIL (boto3 runs on threads) and the CPU. So
    new work waits until no request is mid-handling and none arrived for `settle` seconds, but
    never longer than `max_delay`. Measured in `make bench`: the bot's own ack p99 in a burst
    of 200 went from about 25 ms to under 2.5 ms.
    """

    def __init__(self, max_delay: float = 0.3, settle: float = 0.003) -> None:
        self.max_delay = max_delay
        self.settle = settle
        self.in_progress = 0
        self.last_arrival = 0.0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._watcher: asyncio.Task[None] | None = None

    def arrived(self) -> None:
        self.in_progress += 1
        self.last_arrival = time.monotonic()
        self._quiet.clear()
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def answered(self) -> None:
        self.in_progress -= 1

    async def wait(self) -> None:
        if self._quiet.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), self.max_delay)

    async def _watch(self) -> None:
        # One poller for all waiters, only while requests are arriving.
        try:
            # A debounce is about elapsed time, so it polls; an Event cannot say "quiet for 3 ms".
            while self.in_progress or time.monotonic() - self.last_arrival < self.settle:  # noqa: ASYNC110
                await asyncio.sleep(self.settle)
        finally:
            self._quiet.set()
            self._watcher = None


class Jobs:
    # Room kept above `limit` for short "busy" notices, so a full bot still answers every click.
    NOTICE_RESERVE = 64

    def __init__(self, limit: int, gate: AckFirst | None = None) -> None:
        self.limit = limit
        self.gate = gate or AckFirst()
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
        task = asyncio.get_running_loop().create_task(self._gated(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    async def _gated(self, work: Coroutine[Any, Any, Any]) -> Any:
        await self.gate.wait()
        return await work

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
