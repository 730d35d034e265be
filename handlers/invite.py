"""`/chime invite <email> …`: file a request for approval (all of it after the ack)."""

from __future__ import annotations

from bot.cards.base import Reply, error_card
from bot.deps import Deps
from bot.slack.commands import Invite
from handlers.context import Invocation, reply_later, reply_now


async def handle(cmd: Invite, inv: Invocation, deps: Deps) -> None:
    # A request no one could approve is refused in the ack: nothing filed, no Chime call.
    # Approver groups' members may change that answer, but reading them takes a Slack call,
    # so with groups the question is settled after the ack. With CHIME_POLICY_FILE the
    # approvers depend on the account, which takes a Chime call: `file` asks them there.
    decision = deps.policy.may_file(inv.user_id)
    if not deps.approvals.book.from_file and not decision.allowed and not deps.approvers.groups:
        await reply_now(inv, deps, error_card("Request not filed", decision.reason), "refused")
        return

    await reply_later(inv, deps, lambda: file_request(deps, cmd, inv.user_id, inv.channel_id))


async def file_request(deps: Deps, cmd: Invite, user: str, channel: str) -> tuple[Reply, str]:
    """File `cmd` for `user` from `channel`, if anyone could decide on it: the one way a
    request is filed, from the slash command and from the request form alike. Filing itself
    checks the account's own policy (`Filing.rules_for_filing`, bot/approvals/filing.py)."""
    if not deps.approvals.book.from_file and not deps.policy.may_file(user).allowed:
        verdict = await deps.approvers.check(lambda p: p.may_file(user))
        if not verdict.allowed:
            return error_card("Request not filed", verdict.reason), "refused"
    return await deps.approvals.file(cmd, user, channel)
