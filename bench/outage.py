"""How fast the bot answers while Chime is down, in real time (`python -m bench.outage`).

The real bot (real clock, default budgets and breaker) with the embedded emulator, over signed
HTTP. Prints seconds from sending `/chime user …` to the reply arriving at response_url, for:
a 503 outage (first and later commands), a hung Chime (every call stalls past any timeout), and
recovery (from clearing the faults until a lookup works again).
"""

from __future__ import annotations

import asyncio
import time

from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.wiring import DEMO_CHANNEL, DEMO_REQUESTER, OfflineBot, offline_bot


async def lookup(bot: OfflineBot) -> tuple[float, str]:
    started = time.perf_counter()
    exchange = await bot.sender.command(
        "user ada@example.com", user_id=DEMO_REQUESTER, channel_id=DEMO_CHANNEL
    )
    reply = await exchange.reply(timeout=60)
    return time.perf_counter() - started, str(reply["text"])


async def main() -> None:
    emulator = ChimeEmulator()
    async with offline_bot(emulator=emulator) as bot:
        emulator.inject("ListAccounts", Fault("ServiceUnavailableException", times=-1))
        for label in ("503 outage, first command", "503 outage, second command"):
            seconds, text = await lookup(bot)
            print(f"{label:34} {seconds:6.2f} s  {text[:60]}")
        emulator.clear_faults()
        started = time.perf_counter()
        while True:
            _, text = await lookup(bot)
            if "Ada" in text:
                break
            await asyncio.sleep(0.5)
        print(f"{'lookups work again after recovery':34} {time.perf_counter() - started:6.2f} s")

    emulator = ChimeEmulator()
    async with offline_bot(emulator=emulator) as bot:
        emulator.inject("ListAccounts", Fault("Stall", times=-1, hold=60))
        seconds, text = await lookup(bot)
        print(f"{'hung Chime, first command':34} {seconds:6.2f} s  {text[:60]}")
        emulator.clear_faults()


if __name__ == "__main__":
    asyncio.run(main())
