"""`chime-bot demo`: the real bot, fully offline, driven through Slack's own HTTP path.

It starts the embedded Chime emulator, a local Slack stand-in and the bot's HTTP server in this
process, sends signed slash commands and button clicks exactly as Slack would, and prints every
reply and every message the bot posts as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.offline.demo_groups import DEMO_GROUP_MEMBERS, define_groups, demo_approvers
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import Exchange, PostedMessage, SlackStandIn
from bot.offline.terminal import Style, render
from bot.offline.wiring import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    DEMO_CHANNEL,
    DEMO_REQUESTER,
    OfflineBot,
    offline_bot,
)

PrintLine = Callable[[str], None]
NEW_HIRE = "new.hire@example.com"
SECOND_HIRE = "second.hire@example.com"
# Seed users of Example Corp (bot/offline/emulator/seed.json): one to suspend, and one on the
# Basic license to move to Pro, which that account supports.
LEAVER = "edsger@example.com"
UPGRADE = "grace@example.com"


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

    def latest_card(self) -> PostedMessage:
        slack = self.bot.slack
        card = next(m for m in reversed(slack.messages) if m.channel == DEMO_APPROVAL_CHANNEL)
        self.show(card.current, f"approval card posted in #{DEMO_APPROVAL_CHANNEL}")
        return card

    async def click(self, card: PostedMessage, label: str, user: str) -> None:
        """Press `label` on the card as `user`, then show what the bot said: the card as it is
        now and the direct message it sent, or the private note only `user` sees."""
        slack = self.bot.slack
        self.title(f"click [{label}]", user, DEMO_APPROVAL_CHANNEL)
        before = len(slack.calls)
        exchange = await self.bot.sender.click(
            card.current, label, user_id=user, channel_id=card.channel
        )

        def answered() -> bool:
            posted = any(c.method == "chat.postMessage" for c in slack.calls[before:])
            return posted or bool(slack.responses.get(exchange.response_id))

        await slack.wait_for(answered, timeout=30)
        for note in slack.responses.get(exchange.response_id, []):
            self.show(note, f"a private note only {user} sees")
            return
        self.show(card.current, "the approval card, updated in place")
        dm = slack.messages[-1]
        self.show(dm.current, f"direct message to {DEMO_REQUESTER}")

    async def approve_latest_card(self) -> None:
        await self.click(self.latest_card(), "Approve", DEMO_APPROVER)


async def two_approvals(
    out: PrintLine, style: Style, emulator: ChimeEmulator | None, store: dict[str, object]
) -> None:
    """A request under the two-person rule, approved by a member of a user group and by a
    user listed directly (the same Chime emulator, a second bot with those settings)."""
    approvers = demo_approvers()
    slack = SlackStandIn()
    (group,) = define_groups(slack, approvers.split(","))
    out(
        style.bold("\nNow with CHIME_APPROVALS_REQUIRED=2")
        + f" and CHIME_APPROVERS={approvers}: user group {group} has members "
        + f"{', '.join(DEMO_GROUP_MEMBERS)}. Two different approvers, never the requester."
    )
    overrides = {"chime_approvers": approvers, "chime_approvals_required": 2, **store}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        demo = Demo(bot, out, style)
        await demo.command(f'invite {SECOND_HIRE} --account "Example Corp" needs two keys')
        card = demo.latest_card()
        member = DEMO_GROUP_MEMBERS[0]
        await demo.click(card, "Approve", member)  # 1 of 2: recorded, nothing created yet
        await demo.click(card, "Approve", member)  # the same person again counts once
        await demo.click(card, "Approve", DEMO_APPROVER)  # 2 of 2: the one Chime call


async def run_demo(out: PrintLine, style: Style, store_url: str | None = None) -> int:
    """The demo; its requests go to `store_url` (CHIME_STORE_URL) when set, so `chime-bot
    audit` can read them afterwards, else to a store thrown away at the end."""
    store: dict[str, object] = {"chime_store_url": store_url} if store_url else {}
    async with offline_bot(store) as bot:
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
        # Changing a user who exists (issue 21): each card shows the exact Chime call.
        await demo.command(f"suspend {LEAVER} left the company")
        await demo.approve_latest_card()
        await demo.command(f"license {UPGRADE} Pro hosts large meetings")
        await demo.approve_latest_card()
        await two_approvals(out, style, bot.emulator, store)
    out(
        style.dim(
            "\nDemo finished: every reply above came through the bot's signed HTTP "
            "endpoint, with Chime answered by the embedded emulator."
        )
    )
    if store_url:
        out(style.dim(f"Its requests are in {store_url}: `chime-bot audit` shows their trail."))
    return 0
