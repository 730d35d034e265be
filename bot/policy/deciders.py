"""Who may decide: the one answer, for every surface, to "may this person approve or deny?".

- of one request: a click on its card or in App Home (`Approvals.may_decide`), and App Home
  choosing what to list;
- of an account's requests filed by someone else: `/chime pending` choosing what to list, and
  the help card's "You may approve requests for";
- of any request at all: whether `/chime pending` answers, and the console's `as` label.

All three read the same rules the same way: the account's effective policy as a decision sees
it (bot/policy/effective.py: the file's entry naming the account by its ID or its name, else
the default, with no Chime call, so a click never waits on Chime to refuse), its approvers
listed directly or as members of its user groups (bot/policy/approvers.py), and none at all
where the file leaves the account blocked. A group Slack cannot list now fails closed for what
it decides, and only that: a member of another group, or of another account's, still decides.
So the help card, pending, Home and the console say yes exactly where a click would be allowed
(save that no one decides their own request).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.approvers import Approvers, ApproversUnknown
from bot.policy.authz import Decision
from bot.policy.effective import AccountPolicy, Policies
from bot.store.model import InviteRequest

# Why an earlier approval no longer counts, as the card says it.
NOT_APPROVER = "no longer an approver"


@dataclass(frozen=True)
class Deciders:
    book: Policies
    approvers: Approvers  # the user groups' members, cached

    def rules(self, account_id: str, account_name: str) -> AccountPolicy:
        """The policy decisions on this account's requests are made under."""
        return self.book.for_account(account_id, account_name)

    async def may_decide(self, user: str, request: InviteRequest) -> Decision:
        """Whether `user` may decide `request` now, and why not; never raises (an unreadable
        group refuses, saying why)."""
        try:
            return await self._may_decide(user, request)
        except ApproversUnknown as exc:
            return Decision(False, f"{exc.message} {exc.hint}" if exc.hint else exc.message)

    async def lapsed(self, request: InviteRequest) -> dict[str, str]:
        """The approvals recorded on `request` that would not be allowed now (their approver
        lost the right since), each with why in a few words: the same question as
        `may_decide`, asked again of each. ApproversUnknown if a group that decides it cannot
        be read: then no one can say, and the caller changes nothing."""
        lapsed: dict[str, str] = {}
        for approver in request.approvals:
            verdict = await self._may_decide(approver, request)
            if not verdict.allowed:
                blocked = self.rules(request.account_id, request.account_name).blocked
                lapsed[approver] = (
                    "no one may decide this account's requests now" if blocked else NOT_APPROVER
                )
        return lapsed

    async def _may_decide(self, user: str, request: InviteRequest) -> Decision:
        """`may_decide`, raising ApproversUnknown where a group decides and cannot be read."""
        rules = self.rules(request.account_id, request.account_name)
        if rules.blocked:
            return Decision(False, rules.blocked)
        verdict = rules.rules.may_decide(user, request.requester)
        if verdict.allowed or not rules.rules.approver_groups:
            return verdict
        # Members only add approvers (bot/policy/approvers.py): asked only when they could. A
        # group that cannot be read refuses only what the readable ones do not allow.
        policy, unreadable = await self.approvers.expanded(rules.rules)
        verdict = policy.may_decide(user, request.requester)
        if verdict.allowed or unreadable is None:
            return verdict
        raise unreadable

    async def approves(self, user: str, rules: AccountPolicy) -> bool:
        """Whether `user` decides requests others file under `rules`, groups expanded.
        ApproversUnknown if the answer hangs on a group Slack cannot list now."""
        if rules.blocked:
            return False
        if rules.rules.is_approver(user).allowed:
            return True
        if not rules.rules.approver_groups:
            return False
        # A group that cannot be read decides only when no readable one says yes.
        policy, unreadable = await self.approvers.expanded(rules.rules)
        if policy.is_approver(user).allowed:
            return True
        if unreadable is not None:
            raise unreadable
        return False

    async def approves_for(self, user: str, account_id: str, account_name: str) -> bool:
        """`approves` for an account's requests; ApproversUnknown as there."""
        return await self.approves(user, self.rules(account_id, account_name))

    def listed_anywhere(self, user: str) -> bool:
        """Whether some account's policy lists `user` directly: a yes without asking Slack."""
        return any(p.rules.is_approver(user).allowed for p in self.book.everyone())

    async def anywhere(self, user: str) -> bool:
        """Whether `user` decides some requests, for some account (the file's default section
        or one of its entries; without a file, the environment's approvers). Slack is asked
        only if no listing says yes; ApproversUnknown if no group says yes and one could not
        be read."""
        if self.listed_anywhere(user):
            return True
        unknown: ApproversUnknown | None = None
        for rules in self.book.everyone():
            try:
                if await self.approves(user, rules):
                    return True
            except ApproversUnknown as exc:
                unknown = unknown or exc
        if unknown is not None:
            raise unknown
        return False
