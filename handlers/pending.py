"""`/chime pending`: approvers see the open requests with their age and requester. With
CHIME_POLICY_FILE, each approver sees the requests of the accounts they approve for."""

from __future__ import annotations

from bot.cards.base import Reply, error_card
from bot.cards.pending import pending_list
from bot.deps import Deps
from bot.policy.authz import Policy
from bot.slack.commands import Pending
from handlers.context import Invocation, reply_later, reply_now

NOT_NAMED = (
    "Only approvers can list open requests, and the policy file (CHIME_POLICY_FILE) names you "
    "as an approver of no account, directly or through a user group."
)


async def handle(cmd: Pending, inv: Invocation, deps: Deps) -> None:
    if deps.approvals.book.from_file:
        await reply_later(inv, deps, lambda: by_account(inv.user_id, deps))
        return
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


async def approves(deps: Deps, user: str, rules: Policy) -> bool:
    """Whether `user` approves under `rules`, groups expanded; ApproversUnknown if a group
    cannot be read (the reply then says why: fail closed)."""
    if rules.is_approver(user).allowed:
        return True
    if not rules.approver_groups:
        return False
    return (await deps.approvers.policy(rules)).is_approver(user).allowed


async def by_account(user: str, deps: Deps) -> tuple[Reply, str]:
    book = deps.approvals.book
    anywhere = [p for p in book.everyone() if not p.blocked and await approves(deps, user, p.rules)]
    if not anywhere:
        return error_card("Approvers only", NOT_NAMED), "refused"
    shown = []
    for request in await deps.approvals.open_requests():
        rules = book.for_account(request.account_id, request.account_name)
        if not rules.blocked and await approves(deps, user, rules.rules):
            shown.append(request)
    return pending_list(shown, deps.clock.now()), "ok"
