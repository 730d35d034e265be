"""`/chime pending`: approvers see the open requests with their age and requester, each bulk
invite as one entry. Who is an approver, and of which requests, is bot/policy/deciders.py's
answer, as for a click: with CHIME_POLICY_FILE, each approver sees the requests of the accounts
they approve for."""

from __future__ import annotations

from bot.cards.base import Reply, error_card
from bot.cards.pending import pending_list
from bot.deps import Deps
from bot.policy.approvers import ApproversUnknown
from bot.slack.commands import Pending
from bot.store.model import InviteRequest
from handlers.context import Invocation, reply_later, reply_now

NOT_NAMED = (
    "Only approvers can list open requests, and the policy file (CHIME_POLICY_FILE) names you "
    "as an approver of no account, directly or through a user group."
)


def refusal(deps: Deps, user: str) -> Reply:
    book = deps.approvals.book
    why = NOT_NAMED if book.from_file else book.default().rules.is_approver(user).reason
    return error_card("Approvers only", why)


async def handle(cmd: Pending, inv: Invocation, deps: Deps) -> None:
    deciders = deps.approvals.deciders
    if not deciders.listed_anywhere(inv.user_id) and not deps.approvers.groups:
        # No user group could make them an approver: refused in the ack, with no Slack call.
        await reply_now(inv, deps, refusal(deps, inv.user_id), "refused")
        return
    await reply_later(inv, deps, lambda: listing(inv.user_id, deps))


async def listing(user: str, deps: Deps) -> tuple[Reply, str]:
    """The list for `user`, or the refusal. A group Slack cannot list now fails closed for
    what it decides, and only that: its requests are left out, saying why; if it is all that
    could make `user` an approver, ApproversUnknown, which the reply explains."""
    deciders = deps.approvals.deciders
    if not await deciders.anywhere(user):
        return refusal(deps, user), "refused"
    shown: list[InviteRequest] = []
    problems: list[str] = []
    for request in await deps.approvals.open_requests():
        try:
            if await deciders.approves_for(user, request.account_id, request.account_name):
                shown.append(request)
        except ApproversUnknown as exc:
            problems.append(exc.message)
    return pending_list(shown, deps.clock.now(), list(dict.fromkeys(problems))), "ok"
