"""Work that runs after the ack, tracked so shutdown can wait for it and bounded so a flood of
commands cannot queue without limit."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chime_bot.jobs")


class AckFirst:
    """Holds background work back while Slack requests are being acked.

    Acks have a hard 3 s deadline and cards do not. During a burst, Chime work started at once
    competes with the acks still to be sent, for the GIL (boto3 runs on threads) and the CPU. So
    new work waits until no request is mid-handling and none arrived for `settle` seconds.
    Measured in `make bench`: the bot's own ack p99 in a burst of 200 went from about 25 ms to
    under 2.5 ms.

    Work that has waited `max_delay` is overdue. It used to start then, all of it: in a burst
    whose acks take longer than `max_delay` (1,000 and more at once), every job started while
    hundreds of acks were still to be sent, each costing a few ms of CPU for its first Chime
    call against an ack's fraction of a ms. Now overdue work takes turns, one job per `turn`
    seconds while requests keep arriving, and all of it starts once they stop: acks keep most of
    the loop, and background work still moves on when arrivals never pause.
    """

    def __init__(self, max_delay: float = 0.3, settle: float = 0.003, turn: float = 0.01) -> None:
        self.max_delay = max_delay
        self.settle = settle
        self.turn = turn
        self.in_progress = 0
        self.last_arrival = 0.0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._watcher: asyncio.Task[None] | None = None
        # (when it began waiting, its wake-up) for each job held, oldest first
        self._held: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()

    def arrived(self) -> None:
        self.in_progress += 1
        self.last_arrival = time.monotonic()
        self._quiet.clear()
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def answered(self) -> None:
        self.in_progress -= 1

    @property
    def overdue(self) -> int:
        """Jobs held past `max_delay`, waiting for their turn."""
        due = time.monotonic() - self.max_delay
        return sum(since <= due and not wake.done() for since, wake in self._held)

    async def wait(self) -> None:
        if self._quiet.is_set():
            return
        # A plain future the watcher resolves: no task or timer of its own per job, as a
        # wait_for() would make, while the acks it waits for are still being sent.
        wake = asyncio.get_running_loop().create_future()
        self._held.append((time.monotonic(), wake))
        await wake  # cancelled (shutdown), it stays queued, and _release skips it

    async def _watch(self) -> None:
        # One poller for all waiters, only while requests are arriving.
        try:
            next_turn = time.monotonic() + self.turn
            # A debounce is about elapsed time, so it polls; an Event cannot say "quiet for 3 ms".
            while self.in_progress or time.monotonic() - self.last_arrival < self.settle:
                await asyncio.sleep(self.settle)
                now = time.monotonic()
                if self._held and now >= next_turn and now - self._held[0][0] >= self.max_delay:
                    self._release(1)
                    next_turn = now + self.turn
        finally:
            self._quiet.set()
            self._release(len(self._held))
            self._watcher = None

    def _release(self, count: int) -> None:
        while count and self._held:
            _, wake = self._held.popleft()
            if not wake.done():
                wake.set_result(None)
                count -= 1


class Jobs:
    # Room kept above `limit` for short "busy" notices, so a full bot still answers every click.
    NOTICE_RESERVE = 64

    def __init__(self, limit: int, gate: AckFirst | None = None) -> None:
        self.limit = limit
        self.gate = gate or AckFirst()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._refused = 0  # refusals since the last job that found room

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
            # One line when the bot fills up, one when it has room again: in a burst of
            # thousands, a line per refusal would cost each "busy" answer more than the answer.
            if not self._refused:
                log.warning("no room for %s: %d jobs in flight", name, len(self._tasks))
            self._refused += 1
            return False
        if self._refused:
            log.warning("room again, after %d commands were answered busy", self._refused)
            self._refused = 0
        task = asyncio.get_running_loop().create_task(self._gated(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    async def _gated(self, work: Coroutine[Any, Any, Any]) -> Any:
        try:
            await self.gate.wait()
        except BaseException:  # cancelled before it began (shutdown): it never will
            work.close()
            raise
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
