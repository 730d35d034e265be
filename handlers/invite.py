"""`/chime invite <email> …`: file a request for approval (all of it after the ack)."""

from __future__ import annotations

from bot.cards import Reply
from bot.commands import Invite
from bot.deps import Deps
from handlers.context import Invocation, reply_later


async def handle(cmd: Invite, inv: Invocation, deps: Deps) -> None:
    async def file() -> tuple[Reply, str]:
        return await deps.approvals.file(cmd, inv.user_id, inv.channel_id)

    await reply_later(inv, deps, file)
