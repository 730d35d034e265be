"""Filing: check a new request against fair use, Chime and the account's policy, store it, and
post its approval card; a request whose card Slack refuses is withdrawn, so nothing is
half-filed.

The checks before storing (`rules_for_filing`: may this person file this from this channel for
this account, and are there approvers enough) are the same for a single request and a bulk
invite; a bulk invite's own filing (one request per address, one card) is in
bot/approvals/batches.py. The store's dedupe lock per (email, account) is what makes a second
request for the same address a duplicate, whatever the races.

A filing whose answer the store lost (`StoreUnanswered`: the write may have landed or not) is
read back by its id, which is made before the write: if it is there, filing carries on (its card
is posted, its requester told it was filed); if not, the requester is told nothing was filed.
If even that read fails, the requester is told the bot cannot tell, and the sweep withdraws the
request if it was stored after all (bot/approvals/orphans.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.approvals.fair_use import FairUse
from bot.approvals.orphans import ORPHAN_GRACE
from bot.approvals.steps import Steps
from bot.cards.approval import approval_card
from bot.cards.base import Reply, error_card
from bot.cards.notes import (
    duplicate_note,
    exists_note,
    filed_note,
    not_filed_note,
    unconfirmed_note,
)
from bot.chime.accounts import choose_account
from bot.models import Account
from bot.policy.approvers import Approvers
from bot.policy.authz import Decision
from bot.policy.effective import AccountPolicy, Policies, draft
from bot.slack.commands import Invite
from bot.slack.notify import CardNotPosted
from bot.store import (
    DuplicateRequest,
    InviteRequest,
    RequestStore,
    Status,
    StoreError,
    StoreUnanswered,
    TooManyOpen,
)
from bot.store.model import SYSTEM


@dataclass(frozen=True, slots=True)
class Filing:
    """What filing needs beyond the shared steps: fair use, the policy book, who approves, and
    where cards go."""

    steps: Steps
    fair_use: FairUse
    book: Policies
    approvers: Approvers
    approval_channel: str | None
    default_account: str | None

    async def file(self, cmd: Invite, requester: str, origin_channel: str) -> tuple[Reply, str]:
        """File a single request and post its approval card; the requester's note and outcome."""
        async with self.fair_use.turn(requester):
            filed = await self._register(cmd, requester, origin_channel)
        if not isinstance(filed, InviteRequest):
            return filed
        return await self.post(filed, origin_channel)

    async def _register(
        self, cmd: Invite, requester: str, origin_channel: str
    ) -> InviteRequest | tuple[Reply, str]:
        """Check and store a new request: the stored request, or the reply refusing it."""
        steps = self.steps
        refusal = await self.fair_use.refusal(requester, now=steps.clock.now())
        if refusal is not None:
            return refusal, "too_many_open"
        with steps.directory.one_budget():  # the requester waits for all of it
            account = await choose_account(
                steps.directory, cmd.account, self.default_account, by_id=cmd.account_is_id
            )
            rules = await self.rules_for_filing(account, cmd, requester, origin_channel)
            if not isinstance(rules, AccountPolicy):
                return rules
            holders = await steps.directory.list_accounts(user_email=cmd.email)
        if holders:
            return exists_note(cmd.email, [a.name for a in holders]), "exists"
        now = steps.clock.now()
        existing = await steps.store.find_open(cmd.email, account.account_id, now=now)
        if existing is not None:
            return duplicate_note(existing), "duplicate"
        request = draft(cmd, account, rules, requester, origin_channel, now)
        try:
            return await steps.store.file(request, now=now, max_open=self.fair_use.max_open)
        except DuplicateRequest as dup:
            return duplicate_note(dup.existing), "duplicate"
        except TooManyOpen as cap:  # another replica filed for this person meanwhile
            return self.fair_use.refused(cap.held), "too_many_open"
        except StoreUnanswered:
            try:
                return await filed_after_all(steps.store, request)
            except FilingLost as lost:
                return lost.reply()

    async def rules_for_filing(
        self, account: Account, cmd: Invite, requester: str, origin_channel: str
    ) -> AccountPolicy | tuple[Reply, str]:
        """The account's policy if it lets `requester` file `cmd` from `origin_channel`, else
        the refusal: the same check for a single request and a bulk invite."""
        # Cached by choose_account's own read: the file's entries are matched against it.
        known = await self.steps.directory.all_accounts() if self.book.from_file else None
        rules = self.book.for_account(account.account_id, account.name, known)
        verdict = await self.may_file(rules, cmd, requester, origin_channel, account.name)
        if not verdict.allowed:
            return error_card("Request not filed", verdict.reason), "refused"
        return rules

    async def may_file(
        self, rules: AccountPolicy, cmd: Invite, requester: str, channel: str, account_name: str
    ) -> Decision:
        """The account's policy on filing: from this channel, this user type, and enough
        approvers other than the requester (group members read from Slack if needed)."""
        for verdict in (
            rules.may_request_from(channel, account_name),
            rules.may_have(cmd.user_type.value, account_name),
            rules.access_refusal(cmd.access_for, account_name),
        ):
            if not verdict.allowed:
                return verdict
        required = rules.approvals_required
        return await self.approvers.check(lambda p: p.may_file(requester, required), rules.rules)

    async def post(self, request: InviteRequest, origin_channel: str) -> tuple[Reply, str]:
        """Post the approval card of a stored request, or withdraw the request if Slack won't."""
        steps = self.steps
        channel = self.approval_channel or origin_channel
        try:
            ts = await steps.notifier.post_card(channel, approval_card(request))
        except CardNotPosted as exc:
            return await steps.not_posted([request], channel, exc)
        request = await steps.store.set_card(request.id, channel, ts) or request
        if request.status == Status.DENIED and request.decided_by == SYSTEM:
            # Withdrawn by the sweep while this filing was still at work (orphans.py): the
            # card says so, and the sweep has told the requester.
            await steps.show(request)
            return error_card(
                "Request not filed",
                f"Request {request.id} took too long to file and was withdrawn before its "
                "approval card was posted: no one could see it. Nothing is pending.",
                hint="File it again.",
            ), "withdrawn"
        steps.changed(request)
        return filed_note(request, channel), "filed"


class FilingLost(Exception):
    """The store lost its answer to a filing, and reading the request back found nothing
    (`unknown` False: nothing was filed) or could not be done (True: no one can tell yet)."""

    def __init__(self, request: InviteRequest, *, unknown: bool) -> None:
        super().__init__(f"filing {request.id}: the store did not answer")
        self.request = request
        self.unknown = unknown

    def reply(self) -> tuple[Reply, str]:
        if self.unknown:
            return unconfirmed_note(self.request, ORPHAN_GRACE), "unconfirmed"
        return not_filed_note(self.request), "not_filed"


async def filed_after_all(store: RequestStore, request: InviteRequest) -> InviteRequest:
    """`request` as stored, its filing's answer having been lost (StoreUnanswered): a filing is
    one atomic write, so the request's own item tells whether it took effect (its id was made
    before the write: 50 random bits, never another's). FilingLost if it is not there, or if the
    store cannot be read either."""
    try:
        stored = await store.get(request.id)
    except StoreError as exc:
        raise FilingLost(request, unknown=True) from exc
    if stored is None:
        raise FilingLost(request, unknown=False)
    return stored
