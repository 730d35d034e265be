"""`chime-bot demo`: the real bot, fully offline, driven through Slack's own HTTP path.

It starts the embedded Chime emulator, a local Slack stand-in and the bot's HTTP server in this
process, sends signed slash commands exactly as Slack would, and prints every reply as text.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.offline import DEMO_CHANNEL, DEMO_REQUESTER, offline_bot
from bot.terminal import Style, render

PrintLine = Callable[[str], None]


async def run_demo(print_line: PrintLine, style: Style) -> int:
    async with offline_bot() as bot:
        for text in (
            "help",
            "user ada@example.com",
            "user nobody@example.com",
            "user not-an-email",
        ):
            print_line(
                style.bold(f"\n$ /chime {text}")
                + style.dim(f"   (as {DEMO_REQUESTER} in #{DEMO_CHANNEL})")
            )
            exchange = await bot.sender.command(
                text, user_id=DEMO_REQUESTER, channel_id=DEMO_CHANNEL
            )
            reply = await exchange.reply(timeout=30)
            print_line(
                style.dim(f"  ack {exchange.status} in {exchange.ack_seconds * 1000:.0f} ms")
            )
            print_line(render(reply, style=style))
    print_line(
        style.dim(
            "\nDemo finished: every reply above came through the bot's signed "
            "HTTP endpoint, with Chime answered by the embedded emulator."
        )
    )
    return 0
