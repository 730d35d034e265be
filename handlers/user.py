"""`/chime user <email>`: find the person's Chime account and user, reply with a private card."""

from __future__ import annotations

from bot.cards.base import Reply, not_found_card, user_card
from bot.deps import Deps
from bot.slack.commands import LookupUser
from handlers.context import Invocation, reply_later


async def handle(cmd: LookupUser, inv: Invocation, deps: Deps) -> None:
    async def lookup() -> tuple[Reply, str]:
        record = await deps.directory.find_user(cmd.email)
        if record is None:
            return not_found_card(cmd.email), "not_found"
        ends = await deps.approvals.access_ends(cmd.email, record.account.account_id)
        return user_card(record, ends), "ok"

    await reply_later(inv, deps, lookup)
