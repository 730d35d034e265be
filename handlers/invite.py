"""`/chime invite <email> …`: file a request for approval (all of it after the ack)."""

from __future__ import annotations

from bot.cards import Reply, error_card
from bot.commands import Invite
from bot.deps import Deps
from handlers.context import Invocation, reply_later, reply_now


async def handle(cmd: Invite, inv: Invocation, deps: Deps) -> None:
    # A request no one could approve is refused in the ack: nothing filed, no Chime call.
    # Approver groups' members may change that answer, but reading them takes a Slack call,
    # so with groups the question is settled after the ack. With CHIME_POLICY_FILE the
    # approvers depend on the account, which takes a Chime call: `file` asks them there.
    decision = deps.policy.may_file(inv.user_id)
    uniform = not deps.approvals.book.from_file
    if uniform and not decision.allowed and not deps.approvers.groups:
        await reply_now(inv, deps, error_card("Request not filed", decision.reason), "refused")
        return

    async def file() -> tuple[Reply, str]:
        if uniform and not decision.allowed:
            verdict = await deps.approvers.check(lambda p: p.may_file(inv.user_id))
            if not verdict.allowed:
                return error_card("Request not filed", verdict.reason), "refused"
        return await deps.approvals.file(cmd, inv.user_id, inv.channel_id)

    await reply_later(inv, deps, file)
