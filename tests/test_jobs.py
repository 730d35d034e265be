"""bot/jobs.py: the acks-first gate holds work while requests are being answered, lets overdue work
through one turn at a time and holds nothing for good; a full bot says so in two log lines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.jobs import AckFirst, Jobs


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met")


def _held(gate: AckFirst, started: list[int], n: int) -> list[asyncio.Task[None]]:
    async def job(i: int) -> None:
        await gate.wait()
        started.append(i)

    return [asyncio.create_task(job(i)) for i in range(n)]


async def test_overdue_work_waits_while_acks_go_on_and_starts_when_they_stop() -> None:
    """No turns (a turn every hour): past max_delay, work still waits for the acks to end, and
    then all of it starts."""
    gate = AckFirst(max_delay=0.01, settle=0.002, turn=3600)
    gate.arrived()  # a request being handled, and it stays so
    started: list[int] = []
    tasks = _held(gate, started, 3)
    await _until(lambda: gate.overdue == 3)
    assert started == []
    gate.answered()
    await _until(lambda: len(started) == 3)
    await asyncio.gather(*tasks)
    assert gate.overdue == 0


async def test_overdue_work_takes_turns_when_requests_never_stop() -> None:
    """Requests that never pause cannot hold work for good: with a turn at every poll, each
    overdue job gets one, while the request is still being handled."""
    gate = AckFirst(max_delay=0.01, settle=0.002, turn=0)
    gate.arrived()
    started: list[int] = []
    tasks = _held(gate, started, 4)
    await _until(lambda: len(started) == 4)
    assert gate.in_progress == 1 and sorted(started) == [0, 1, 2, 3]
    await asyncio.gather(*tasks)
    gate.answered()


async def test_a_job_cancelled_while_waiting_for_its_turn_takes_no_turn() -> None:
    """Shutdown cancels what waits; the turn it would have had goes to the next job."""
    gate = AckFirst(max_delay=0.01, settle=0.002, turn=3600)
    gate.arrived()
    started: list[int] = []
    tasks = _held(gate, started, 2)
    await _until(lambda: gate.overdue == 2)
    tasks[0].cancel()
    await _until(lambda: gate.overdue == 1)
    gate.answered()
    await _until(lambda: started == [1])
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_drain_ends_work_held_at_the_gate() -> None:
    jobs = Jobs(limit=4, gate=AckFirst(max_delay=0.01, settle=0.002, turn=3600))
    jobs.gate.arrived()
    ran: list[str] = []

    async def work() -> None:
        ran.append("ran")

    assert jobs.spawn(work(), name="held")
    await _until(lambda: jobs.gate.overdue == 1)
    assert await jobs.drain(timeout=0.05) is False  # still held: cancelled, nothing half-done
    assert ran == [] and jobs.in_flight == 0


async def test_a_full_bot_logs_once_when_it_fills_and_once_when_it_has_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = Jobs(limit=1)
    release = asyncio.Event()
    assert jobs.spawn(release.wait(), name="first")

    async def refused() -> None:
        raise AssertionError("a refused job never runs")

    with caplog.at_level(logging.WARNING, logger="chime_bot.jobs"):
        assert not any([jobs.spawn(refused(), name=f"more:{i}") for i in range(500)])
        assert [r.getMessage() for r in caplog.records] == ["no room for more:0: 1 jobs in flight"]
        release.set()
        await _until(lambda: jobs.in_flight == 0)
        assert jobs.spawn(asyncio.sleep(0), name="later")
    assert caplog.records[-1].getMessage() == "room again, after 500 commands were answered busy"
    assert len(caplog.records) == 2
    await jobs.drain(timeout=5)
