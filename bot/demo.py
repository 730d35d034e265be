"""`chime-bot demo`: the real bot, fully offline, driven through Slack's own HTTP path.

It starts the embedded Chime emulator, a local Slack stand-in and the bot's HTTP server in this
process, sends signed slash commands and button clicks exactly as Slack would, and prints every
reply and every message the bot posts as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.offline import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    DEMO_CHANNEL,
    DEMO_REQUESTER,
    OfflineBot,
    offline_bot,
)
from bot.slack_standin import Exchange
from bot.terminal import Style, render

PrintLine = Callable[[str], None]
NEW_HIRE = "new.hire@example.com"


class Demo:
    def __init__(self, bot: OfflineBot, out: PrintLine, style: Style) -> None:
        self.bot, self.out, self.style = bot, out, style

    def title(self, text: str, who: str, where: str) -> None:
        self.out(self.style.bold(f"\n$ {text}") + self.style.dim(f"   (as {who} in #{where})"))

    def show(self, message: dict[str, Any], label: str | None = None) -> None:
        if label:
            self.out(self.style.dim(f"  -- {label} --"))
        self.out(render(message, style=self.style))

    async def command(self, text: str, user: str = DEMO_REQUESTER) -> Exchange:
        self.title(f"/chime {text}", user, DEMO_CHANNEL)
        exchange = await self.bot.sender.command(text, user_id=user, channel_id=DEMO_CHANNEL)
        reply = await exchange.reply(timeout=30)
        self.out(self.style.dim(f"  ack {exchange.status} in {exchange.ack_seconds * 1000:.0f} ms"))
        self.show(reply)
        return exchange

    async def approve_latest_card(self) -> None:
        slack = self.bot.slack
        card = next(m for m in reversed(slack.messages) if m.channel == DEMO_APPROVAL_CHANNEL)
        self.show(card.current, f"approval card posted in #{DEMO_APPROVAL_CHANNEL}")
        self.title("click [Approve]", DEMO_APPROVER, DEMO_APPROVAL_CHANNEL)
        before = len(slack.calls)
        await self.bot.sender.click(
            card.current, "Approve", user_id=DEMO_APPROVER, channel_id=card.channel
        )
        await slack.wait_for(
            lambda: any(c.method == "chat.postMessage" for c in slack.calls[before:]), timeout=30
        )
        self.show(card.current, "the approval card, updated in place")
        dm = slack.messages[-1]
        self.show(dm.current, f"direct message to {DEMO_REQUESTER}")


async def run_demo(out: PrintLine, style: Style) -> int:
    async with offline_bot() as bot:
        demo = Demo(bot, out, style)
        for text in (
            "help",
            "user ada@example.com",
            "user nobody@example.com",
            "user not-an-email",
        ):
            await demo.command(text)
        await demo.command(f'invite {NEW_HIRE} --account "Example Corp" starts Monday')
        await demo.approve_latest_card()
        await demo.command(f"user {NEW_HIRE}")
    out(
        style.dim(
            "\nDemo finished: every reply above came through the bot's signed HTTP "
            "endpoint, with Chime answered by the embedded emulator."
        )
    )
    return 0
