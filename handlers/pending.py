"""`/chime pending`: approvers see the open requests with their age and requester."""

from __future__ import annotations

from bot.approval_cards import pending_list
from bot.cards import Reply, error_card
from bot.commands import Pending
from bot.deps import Deps
from handlers.context import Invocation, reply_later, reply_now


async def handle(cmd: Pending, inv: Invocation, deps: Deps) -> None:
    verdict = deps.policy.is_approver(inv.user_id)
    if not verdict.allowed:
        await reply_now(inv, deps, error_card("Approvers only", verdict.reason), "refused")
        return

    async def listing() -> tuple[Reply, str]:
        return pending_list(await deps.approvals.open_requests(), deps.clock.now()), "ok"

    await reply_later(inv, deps, listing)
