"""`/chime pending`: approvers see the open requests with their age and requester."""

from __future__ import annotations

from bot.approval_cards import pending_list
from bot.cards import Reply, error_card
from bot.commands import Pending
from bot.deps import Deps
from handlers.context import Invocation, reply_later, reply_now


async def handle(cmd: Pending, inv: Invocation, deps: Deps) -> None:
    verdict = deps.policy.is_approver(inv.user_id)
    if not verdict.allowed and not deps.approvers.groups:
        await reply_now(inv, deps, error_card("Approvers only", verdict.reason), "refused")
        return

    async def listing() -> tuple[Reply, str]:
        if not verdict.allowed:  # perhaps a member of an approver group: ask after the ack
            member = await deps.approvers.check(lambda p: p.is_approver(inv.user_id))
            if not member.allowed:
                return error_card("Approvers only", member.reason), "refused"
        return pending_list(await deps.approvals.open_requests(), deps.clock.now()), "ok"

    await reply_later(inv, deps, listing)
