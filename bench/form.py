"""How soon the request form opens, in real time (`python -m bench.form`).

The real bot with the embedded emulator, over signed HTTP. Slack gives a trigger_id 3 seconds,
so what matters is the time from Slack sending `/chime invite` (or the shortcut) to `views.open`
reaching Slack, and it must not depend on Chime: each case runs with ListAccounts answering at
once and with it taking 5 s. Also timed: the answer to a valid submission (Slack waits 3 s for
it), with the account list cached and with it expired and Chime slow. Prints the median and the
worst of `ROUNDS` rounds.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bot.cards.form import SHORTCUT_ID, Field
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_CHANNEL, DEMO_REQUESTER, OfflineBot, offline_bot

ROUNDS = 10
SLOW_CHIME = 5.0


async def until_open(bot: OfflineBot, send: str) -> float:
    before = len(bot.slack.calls_to("views.open"))
    started = time.perf_counter()
    if send == "command":
        await bot.sender.command("invite", user_id=DEMO_REQUESTER, channel_id=DEMO_CHANNEL)
    else:
        await bot.sender.shortcut(SHORTCUT_ID, user_id=DEMO_REQUESTER)
    await bot.slack.wait_for(lambda: len(bot.slack.calls_to("views.open")) > before, 30)
    return time.perf_counter() - started


async def submit_answer(bot: OfflineBot, n: int) -> float:
    await bot.slack.wait_for(lambda: bool(bot.slack.views.opened_for(DEMO_REQUESTER)), 30)
    forms = [v for v in bot.slack.views.opened_for(DEMO_REQUESTER) if v.view.get("submit")]
    values: dict[str, str] = {
        Field.EMAIL: f"bench{n}@example.com",
        Field.ACCOUNT: "c0a1c0a1-5e3d-4b8a-9f21-000000000001",
        Field.USER_TYPE: "PrivateUser",
        Field.REASON: "bench",
        Field.CHANNEL: DEMO_CHANNEL,
    }
    exchange = await bot.sender.submit(forms[-1].id, values, user_id=DEMO_REQUESTER)
    assert exchange.status == 200 and exchange.ack is None, exchange.ack
    return exchange.ack_seconds


def line(label: str, seconds: list[float]) -> str:
    median, worst = statistics.median(seconds), max(seconds)
    return f"{label:58} median {median * 1000:7.1f} ms   worst {worst * 1000:7.1f} ms"


async def updated(bot: OfflineBot, before: int) -> None:
    """Until the form opened last shows its fields (or its message)."""
    await bot.slack.wait_for(lambda: len(bot.slack.calls_to("views.update")) > before, 30)


async def main() -> None:
    overrides: dict[str, object] = {
        "chime_approvers": "U0APPROVER,U0APPROVER2",
        "chime_max_open_per_requester": 1000,
    }
    for latency in (0.0, SLOW_CHIME):
        emulator = ChimeEmulator()
        async with offline_bot(overrides, emulator=emulator) as bot:
            emulator.set_latency(latency, "ListAccounts")
            for send in ("command", "shortcut"):
                seconds = [await until_open(bot, send) for _ in range(ROUNDS)]
                print(line(f"{send} -> views.open, ListAccounts {latency:.0f} s", seconds))
            # Slow Chime: the list is read afresh each time (as if its 30 s cache had expired).
            bot.runtime.deps.directory.account_list_ttl = 0 if latency else 30.0
            answers = []
            for n in range(ROUNDS if not latency else ROUNDS // 2):
                before = len(bot.slack.calls_to("views.update"))
                await until_open(bot, "command")
                await updated(bot, before)
                answers.append(await submit_answer(bot, n + int(latency) * 100))
            cached = "account list expired" if latency else "account list cached"
            print(
                line(f"valid submission -> answer, {cached}, ListAccounts {latency:.0f} s", answers)
            )


if __name__ == "__main__":
    asyncio.run(main())
