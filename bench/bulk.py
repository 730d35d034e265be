"""How long a 50-address bulk invite takes, in real time (`python -m bench.bulk`).

The real bot (real clock, SQLite store, defaults) with the embedded emulator at a given
per-call latency, over signed HTTP. Prints seconds from sending `/chime invite` with 50
addresses to the requester's reply (50 ListAccounts checks, 50 filings, one card), and from
clicking "Approve all 50" to the card showing every outcome: one InviteUsers on the Team
account, 50 CreateUser on the Enterprise one.
"""

from __future__ import annotations

import asyncio
import time

from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL, DEMO_APPROVER, DEMO_CHANNEL, offline_bot

COUNT = 50


async def run(account: str, latency: float) -> tuple[float, float]:
    emulator = ChimeEmulator(latency=latency)
    async with offline_bot(emulator=emulator) as bot:
        emails = " ".join(f"bench{i:02d}@bulk.example.org" for i in range(COUNT))
        started = time.perf_counter()
        exchange = await bot.sender.command(
            f'invite {emails} --account "{account}"', user_id="U0BENCH", channel_id=DEMO_CHANNEL
        )
        await exchange.reply(timeout=60)
        filed = time.perf_counter() - started
        (card,) = [m for m in bot.slack.messages if m.channel == DEMO_APPROVAL_CHANNEL]
        started = time.perf_counter()
        await bot.sender.click(
            card.current, f"Approve all {COUNT}", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        await bot.slack.wait_for(lambda: f"{COUNT} done" in str(card.current), timeout=120)
        return filed, time.perf_counter() - started


async def main() -> None:
    for latency in (0.0, 0.05):
        for account in ("Example Team", "Example Corp"):
            filed, approved = await run(account, latency)
            print(
                f"{account:13} Chime latency {latency * 1000:3.0f} ms: filed in {filed:5.2f} s, "
                f"approved and done in {approved:5.2f} s"
            )


if __name__ == "__main__":
    asyncio.run(main())
