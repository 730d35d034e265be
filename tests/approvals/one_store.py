"""In-process replicas: several offline bots on one store (a SQLite file or one DynamoDB table
on moto), one Slack stand-in and one Chime emulator, sharing the test's virtual clock. Real
concurrency through the store, without the cost of separate processes (test_replica_faults.py
has those)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import OfflineBot, offline_bot
from tests.approvals.test_invite import APPROVERS
from tests.clock import TRUST_VIRTUAL_TIME, VirtualClock


def one_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, **more: object
) -> dict[str, object]:
    """Settings for bots that share one store of `backend` ("sqlite" or "dynamodb")."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = f"dynamodb://{request.getfixturevalue('dynamo_table')}"
    return {
        "chime_approvers": ",".join(APPROVERS),
        "chime_store_url": url,
        **TRUST_VIRTUAL_TIME,
        **more,
    }


@asynccontextmanager
async def bots_on(
    emulator: ChimeEmulator, clock: VirtualClock, settings: Sequence[dict[str, object]]
) -> AsyncIterator[list[OfflineBot]]:
    """One running bot per settings, all reaching one Slack stand-in and `emulator`."""
    slack = SlackStandIn()
    await emulator.start()
    await slack.start()
    try:
        async with AsyncExitStack() as stack:
            yield [
                await stack.enter_async_context(
                    offline_bot(each, emulator=emulator, clock=clock, slack=slack)
                )
                for each in settings
            ]
    finally:
        await slack.stop()
        await emulator.stop()
