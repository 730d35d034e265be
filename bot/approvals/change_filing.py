"""Filing a lifecycle change (issue 21): `/chime suspend`, `unsuspend`, `logout`, `reset-pin`
and `license`, through the same engine as an invite.

Everything that can be said before filing is said before filing, and then nothing is filed:
an address Chime has no user for, a directory-linked account (its users are managed in the
directory), a user already in the state asked for, an unsuspension on a Team account (the way
back there is an invitation), a license the account does not support. Each address is located
as a lookup does (`Directory.find_user`: ListAccounts filtered by email, then the user).

Decisions, where none is written elsewhere:
- One request is one account: each account has its own approvers and policy, so a command
  naming users of several accounts is refused with the addresses grouped by account, to be sent
  once per account. Several addresses of one account are one request with one card, like a bulk
  invite (one request per address sharing `batch_id`; one BatchSuspendUser for all of them).
- A change the account's policy runs without approval (`actions` in the policy file; by
  default only resetting your own PIN) is stored and claimed for its requester at once
  (`Move.run_unapproved`), so it is audited, counted once and settled like any other.
- "Your own" PIN: the requester's Slack profile email (users.info) is the Chime user's primary
  email, compared case-insensitively. If Slack cannot say, the reset is someone else's: it
  needs an approval (fails closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.approvals.batches import post_batch, run_claimed
from bot.approvals.decision import execute
from bot.approvals.filing import Filing, FilingLost, filed_after_all
from bot.approvals.steps import Steps
from bot.cards.base import Reply, error_card
from bot.cards.batch import batch_outcome_note
from bot.cards.changes import NO_APPROVAL
from bot.cards.notes import decided_already_note, duplicate_note, outcome_note
from bot.chime.accounts import DIRECTORY_ACCOUNTS
from bot.chime.lifecycle import SUSPENDED
from bot.errors import ChimeError
from bot.models import Account, UserRecord
from bot.policy.effective import AccountPolicy
from bot.store import (
    Change,
    DuplicateRequest,
    InviteRequest,
    Move,
    StoreUnanswered,
    TooManyOpen,
    new_request_id,
)

# The policy file's action names (bot/config/policy_file.py), per change.
ACTIONS = {
    Change.INVITE: "invite",
    Change.SUSPEND: "suspend",
    Change.UNSUSPEND: "unsuspend",
    Change.LOGOUT: "logout",
    Change.RESET_PIN: "reset_pin",
    Change.LICENSE: "license",
}
RESET_PIN_SELF = "reset_pin_self"
_NOTHING = " Nothing was filed."
_USER_TYPES = ("PrivateUser", "SharedDevice")

# The requester's Slack profile email, or None when Slack has none for them; raises when Slack
# cannot say (bot/slack/people.py).
EmailOf = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class ChangeAsked:
    """A lifecycle command as typed: which change, for whom, why, and its one parameter."""

    change: Change
    emails: tuple[str, ...]
    reason: str = ""
    license: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    email: str
    record: UserRecord


@dataclass(frozen=True, slots=True)
class ChangeFiling:
    filing: Filing
    email_of: EmailOf | None = None  # None: no Slack profile lookups (no reset is your own)

    @property
    def steps(self) -> Steps:
        return self.filing.steps

    async def file(
        self, asked: ChangeAsked, requester: str, origin_channel: str
    ) -> tuple[Reply, str]:
        fair_use = self.filing.fair_use
        async with fair_use.turn(requester):
            refusal = await fair_use.refusal(requester, now=self.steps.clock.now())
            if refusal is not None:
                return refusal, "too_many_open"
            located = await self._locate(asked)
            if not isinstance(located, list):
                return located
            account = located[0].record.account
            action = await self._action(asked, located, requester)
            rules = await self._rules(account, action, requester, origin_channel)
            if not isinstance(rules, AccountPolicy):
                return rules
            approval = rules.needs_approval(action)
            filed = await self._register(asked, located, rules, approval, requester, origin_channel)
        if not isinstance(filed, list):
            return filed
        if not approval:
            return await self._run_now(filed, requester)
        if len(filed) == 1:
            return await self.filing.post(filed[0], origin_channel)
        return await post_batch(self.filing, filed, {}, origin_channel)

    # ---- before filing -------------------------------------------------------------------

    async def _locate(self, asked: ChangeAsked) -> list[Target] | tuple[Reply, str]:
        directory = self.steps.directory
        try:
            with directory.one_budget():
                found = await asyncio.gather(*(directory.find_user(e) for e in asked.emails))
        except ChimeError as exc:
            return error_card(exc.title, exc.message + _NOTHING, hint=exc.hint), "chime_error"
        missing = [e for e, r in zip(asked.emails, found, strict=True) if r is None]
        if missing:
            return error_card(
                "Not found in Amazon Chime",
                "No Amazon Chime account has a user with " + ", ".join(missing) + "." + _NOTHING,
                hint="Check the spelling, or look them up with /chime user <email>.",
            ), "not_found"
        targets = [Target(e, r) for e, r in zip(asked.emails, found, strict=True) if r is not None]
        by_account: dict[str, list[Target]] = {}
        for target in targets:
            by_account.setdefault(target.record.account.account_id, []).append(target)
        if len(by_account) > 1:
            groups = "; ".join(
                f"{ts[0].record.account.name} ({account_id}): {', '.join(t.email for t in ts)}"
                for account_id, ts in by_account.items()
            )
            return error_card(
                "One account per request",
                "These users are in different Amazon Chime accounts, and each account's own "
                f"approvers decide its changes: {groups}." + _NOTHING,
                hint="Send the command once for each account.",
            ), "several_accounts"
        problems = [p for t in targets if (p := change_problem(asked, t)) is not None]
        if problems:
            return error_card("Nothing to file", " ".join(problems) + _NOTHING), "refused"
        return targets

    async def _action(self, asked: ChangeAsked, targets: list[Target], requester: str) -> str:
        """The policy's name for what is asked: resetting your own PIN is its own action."""
        if asked.change != Change.RESET_PIN or self.email_of is None:
            return ACTIONS[asked.change]
        try:
            own = await self.email_of(requester)
        except Exception:  # Slack cannot say whose it is: someone else's (fails closed)
            return ACTIONS[asked.change]
        chime_email = targets[0].record.user.email
        if own and chime_email and own.casefold() == chime_email.casefold():
            return RESET_PIN_SELF
        return ACTIONS[asked.change]

    async def _rules(
        self, account: Account, action: str, requester: str, channel: str
    ) -> AccountPolicy | tuple[Reply, str]:
        filing = self.filing
        known = await self.steps.directory.all_accounts() if filing.book.from_file else None
        rules = filing.book.for_account(account.account_id, account.name, known)
        verdict = rules.may_request_from(channel, account.name)
        if verdict.allowed and rules.needs_approval(action):
            required = rules.approvals_required
            verdict = await filing.approvers.check(
                lambda p: p.may_file(requester, required), rules.rules
            )
        if not verdict.allowed:
            return error_card("Request not filed", verdict.reason), "refused"
        return rules

    # ---- filing --------------------------------------------------------------------------

    async def _register(
        self,
        asked: ChangeAsked,
        targets: list[Target],
        rules: AccountPolicy,
        approval: bool,
        requester: str,
        channel: str,
    ) -> list[InviteRequest] | tuple[Reply, str]:
        steps = self.steps
        now = steps.clock.now()
        members: list[InviteRequest] = []
        lead_id: str | None = None
        for target in targets:
            request = draft_change(asked, target, rules, approval, requester, channel, now)
            if len(targets) > 1:
                lead_id = lead_id or request.id
                request = replace(request, batch_id=lead_id)
            try:
                members.append(
                    await steps.store.file(request, now=now, max_open=self.filing.fair_use.max_open)
                )
            except DuplicateRequest as dup:
                await steps.withdraw(members, "filing did not complete: a duplicate")
                return duplicate_note(dup.existing), "duplicate"
            except TooManyOpen as cap:
                await steps.withdraw(members, "filing did not complete: fair use")
                return self.filing.fair_use.refused(cap.held), "too_many_open"
            except StoreUnanswered:
                try:
                    members.append(await filed_after_all(steps.store, request))
                except FilingLost as lost:
                    await steps.withdraw(members, "filing did not complete")
                    return lost.reply()
        return members

    async def _run_now(self, filed: list[InviteRequest], requester: str) -> tuple[Reply, str]:
        """Run a change its policy needs no approval for: each request claimed for its
        requester, then its Chime call (one BatchSuspendUser for several addresses), as an
        approved one would be; the reply is the outcome."""
        steps = self.steps
        if len(filed) == 1 and filed[0].batch_id is None:
            done = await run_unapproved(steps, filed[0], requester)
            if done is None:
                return decided_already_note(
                    await steps.store.get(filed[0].id) or filed[0]
                ), "refused"
            return outcome_note(done), "ran"
        claim = Move.run_unapproved(requester, steps.clock.now(), lease=steps.lease)
        claimed = await steps.move_each(filed, claim)
        if claimed:
            await run_claimed(steps, claimed, requester)
        members = await steps.store.list_batch(filed[0].id)
        return batch_outcome_note(members or filed), "ran"


async def run_unapproved(steps: Steps, request: InviteRequest, actor: str) -> InviteRequest | None:
    """Claim a stored request that needs no approval for `actor` and run its Chime call, as an
    approved one would be (the store's one-claim rule makes it run once); the request as it
    ended, or None if someone else changed it first."""
    claimed = await steps.store.transition(
        request.id, Move.run_unapproved(actor, steps.clock.now(), lease=steps.lease)
    )
    if not claimed.ok or claimed.request is None:
        return None
    await execute(steps, claimed.request, actor, quiet=True)
    return await steps.store.get(request.id) or claimed.request


def draft_change(
    asked: ChangeAsked,
    target: Target,
    rules: AccountPolicy,
    approval: bool,
    requester: str,
    channel: str,
    now: float,
) -> InviteRequest:
    account, user = target.record.account, target.record.user
    params = {"user_id": user.user_id}
    if not approval:
        params["approval"] = NO_APPROVAL
    if asked.license:
        params["license"] = asked.license
        params["from_license"] = user.license_type or ""
    return InviteRequest(
        id=new_request_id(),
        email=user.email or target.email,
        user_type=user.user_type if user.user_type in _USER_TYPES else "PrivateUser",
        reason=asked.reason,
        account_id=account.account_id,
        account_name=account.name,
        account_type=account.account_type,
        requester=requester,
        origin_channel=channel,
        created_at=now,
        expires_at=now + rules.ttl,
        updated_at=now,
        approvals_required=rules.approvals_required if approval else 1,
        change=asked.change,
        params=params,
    )


def change_problem(asked: ChangeAsked, target: Target) -> str | None:
    """Why this change cannot be filed for this user, in plain words; None if it can."""
    account, user = target.record.account, target.record.user
    email, change = target.email, asked.change
    if change in (Change.SUSPEND, Change.UNSUSPEND, Change.LICENSE):
        why = DIRECTORY_ACCOUNTS.get(account.account_type)
        if why is not None:
            return f"{email}: the account {account.name} {why}."
    suspended = user.registration_status == SUSPENDED
    if change == Change.SUSPEND and suspended:
        return f"{email} is already suspended in {account.name}."
    if change == Change.UNSUSPEND:
        if account.is_team:
            return (
                f"{email} is in the Team account {account.name}, which has no unsuspension: a "
                f"suspension removes a Team user from the account. To bring them back, invite "
                f"them again (/chime invite {email} --account {account.account_id})."
            )
        if not suspended:
            return f"{email} is not suspended in {account.name}."
    if change == Change.LICENSE and asked.license:
        supported = account.supported_licenses
        if supported and asked.license not in supported:
            return (
                f"The account {account.name} does not support the {asked.license} license; it "
                f"supports {', '.join(supported)}."
            )
        if user.license_type == asked.license:
            return f"{email} already has the {asked.license} license."
    return None
