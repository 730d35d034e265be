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
where the file leaves the account blocked. So the help card, pending, Home and the console say
yes exactly where a click would be allowed (save that no one decides their own request).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.approvers import Approvers, ApproversUnknown
from bot.policy.authz import Decision
from bot.policy.effective import AccountPolicy, Policies
from bot.store.model import InviteRequest


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
        rules = self.rules(request.account_id, request.account_name)
        if rules.blocked:
            return Decision(False, rules.blocked)
        return await self.approvers.check(
            lambda p: p.may_decide(user, request.requester), rules.rules
        )

    async def approves(self, user: str, rules: AccountPolicy) -> bool:
        """Whether `user` decides requests others file under `rules`, groups expanded.
        ApproversUnknown if the answer hangs on a group Slack cannot list now."""
        if rules.blocked:
            return False
        if rules.rules.is_approver(user).allowed:
            return True
        if not rules.rules.approver_groups:
            return False
        return (await self.approvers.policy(rules.rules)).is_approver(user).allowed

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
