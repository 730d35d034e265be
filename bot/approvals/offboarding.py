"""Offboarding (issue 21): a Slack user was deactivated (`user_change` with `deleted: true`), so
their Amazon Chime user is suspended, asked for or at once, as CHIME_OFFBOARDING says.

The Chime user is the one whose address is the Slack profile's, located as a lookup does
(`Directory.find_user`), and the suspension is the one `/chime suspend` files: the same draft,
the same checks before filing (`change_problem`: a user already suspended is left alone), the
same card and the same Chime call. What differs is that no one typed it:

- The requester is the bot (`system`), and the reason says which Slack user was deactivated:
  both are in the "filed" audit event. There is no command channel, so the card goes to
  CHIME_APPROVAL_CHANNEL (load_settings refuses `request` and `suspend` without one), and
  channel allowlists and fair use, which are about people typing commands, do not apply.
- `request`: the account's approvers must exist (`may_file` for the bot): if none could decide,
  nothing is filed and a warning is logged (fails closed). Always a request, whatever the
  account's policy says of suspensions: the operator chose to be asked.
- `suspend`: stored, then claimed for the bot and run (`run_unapproved`), so the store's
  one-claim rule runs it once; the card posted afterwards says what was done (with Retry if
  Chime failed, for the account's approvers).
- Slack sends the event again (retries, or a second `user_change` for the same person): the
  store's dedupe per (address, account, change) makes a second open suspension a
  `DuplicateRequest`, and one already done left the user suspended (or, on a Team account,
  gone from it), so nothing more is filed. A delivery that looked the user up before an
  earlier one's suspension ended finds it done once it has filed (the dedupe lock it then
  holds is let go only after a call has ended), and withdraws its own request unrun.
- A directory-linked account: the directory must do it; a warning, and a note in the channel.

Nothing here raises to the event's job: every end is a log line and an outcome word.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.approvals.change_calls import change_done
from bot.approvals.change_filing import (
    ChangeAsked,
    Target,
    change_problem,
    draft_change,
    run_unapproved,
)
from bot.approvals.filing import Filing, FilingLost, filed_after_all
from bot.cards.approval import approval_card
from bot.cards.offboarding import directory_note
from bot.chime.accounts import DIRECTORY_ACCOUNTS
from bot.errors import ChimeError
from bot.models import UserRecord
from bot.slack.message import Reply
from bot.slack.notify import CardNotPosted
from bot.store import Change, DuplicateRequest, InviteRequest, StoreUnanswered
from bot.store.model import SYSTEM

log = logging.getLogger("chime_bot.offboarding")

OFF, REQUEST, SUSPEND = "off", "request", "suspend"


@dataclass(frozen=True, slots=True)
class Departure:
    """A Slack user deactivated, and their profile's address if the event carried one."""

    slack_user: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Offboarding:
    filing: Filing
    mode: str  # CHIME_OFFBOARDING: off, request or suspend
    channel: str | None  # CHIME_APPROVAL_CHANNEL

    async def departed(self, gone: Departure) -> str:
        """Do what the mode says for one deactivation; the outcome, in a word (for the log)."""
        who = gone.slack_user
        if self.mode == OFF:
            log.debug("Slack user %s was deactivated; offboarding is off", who)
            return "off"
        if not gone.email:
            log.debug("Slack user %s was deactivated; the event has no email: nothing done", who)
            return "no_email"
        if self.channel is None:  # load_settings refuses this; never file into nowhere
            log.warning("offboarding %s: no CHIME_APPROVAL_CHANNEL; nothing done", who)
            return "no_channel"
        try:
            record = await self.filing.steps.directory.find_user(gone.email)
        except ChimeError as exc:
            log.warning(
                "offboarding %s: Amazon Chime could not be asked (%s); nothing was done",
                who,
                exc.message,
                extra={"user": who, "outcome": "chime_error"},
            )
            return "chime_error"
        if record is None:
            log.debug("Slack user %s was deactivated; no Chime user has their email", who)
            return "not_found"
        return await self._suspend(gone, record)

    async def _suspend(self, gone: Departure, record: UserRecord) -> str:
        who, account, email = gone.slack_user, record.account, record.user.email or gone.email
        assert email is not None
        extra = {"user": who, "account_id": account.account_id}
        if account.account_type in DIRECTORY_ACCOUNTS:
            log.warning(
                "offboarding %s: their Chime user is in the directory-linked account %s (%s); "
                "the directory must remove them",
                who,
                account.account_id,
                account.account_type,
                extra={**extra, "outcome": "directory"},
            )
            await self._tell(directory_note(who, email, account))
            return "directory"
        asked = ChangeAsked(
            Change.SUSPEND,
            (email,),
            reason=f"Slack user {who} was deactivated (CHIME_OFFBOARDING={self.mode})",
        )
        target = Target(email, record)
        problem = change_problem(asked, target)
        if problem is not None:
            log.debug("offboarding %s: nothing to do: %s", who, problem)
            return "nothing_to_do"
        filing, steps = self.filing, self.filing.steps
        known = await steps.directory.all_accounts() if filing.book.from_file else None
        rules = filing.book.for_account(account.account_id, account.name, known)
        approval = self.mode == REQUEST
        if approval:
            required = rules.approvals_required
            verdict = await filing.approvers.check(
                lambda p: p.may_file(SYSTEM, required), rules.rules
            )
            if not verdict.allowed:
                log.warning(
                    "offboarding %s: no suspension filed in %s: %s",
                    who,
                    account.account_id,
                    verdict.reason,
                    extra={**extra, "outcome": "no_approvers"},
                )
                return "no_approvers"
        now = steps.clock.now()
        assert self.channel is not None
        draft = draft_change(asked, target, rules, approval, SYSTEM, self.channel, now)
        stored = await self._store(draft, who)
        if stored is None:
            return "not_filed"
        if await self._done_meanwhile(stored):
            # Another delivery of the same deactivation suspended them between our lookup
            # and our filing: its request had closed, so ours was no duplicate.
            await steps.withdraw([stored], "already suspended by an earlier offboarding")
            log.debug("offboarding %s: already suspended meanwhile; nothing more done", who)
            return "nothing_to_do"
        if approval:
            _, outcome = await filing.post(stored, self.channel)
            log.info(
                "offboarding %s: suspension request %s filed",
                who,
                stored.id,
                extra={**extra, "request_id": stored.id, "outcome": outcome},
            )
            return outcome
        done = await run_unapproved(steps, stored, SYSTEM)
        if done is None:
            return "claimed_elsewhere"
        log.info(
            "offboarding %s: suspension %s ran at once: %s",
            who,
            done.id,
            done.status.value,
            extra={**extra, "request_id": done.id, "outcome": done.status.value},
        )
        await self._show(done)
        return done.status.value

    async def _done_meanwhile(self, request: InviteRequest) -> bool:
        """Whether Chime shows the suspension made, asked after filing: the filing holds the
        store's dedupe lock for this address and account, and an earlier request only lets go
        of it once its Chime call has ended, so what Chime shows now includes that call. If
        Chime cannot be asked, the request goes on (its own call will meet the same Chime)."""
        try:
            return await change_done(self.filing.steps.directory, request) is True
        except ChimeError:
            return False

    async def _store(self, request: InviteRequest, who: str) -> InviteRequest | None:
        """The request as stored; None when it is not (a duplicate: already open)."""
        store, now = self.filing.steps.store, self.filing.steps.clock.now()
        try:
            return await store.file(request, now=now)  # no fair-use cap: no person files it
        except DuplicateRequest as dup:
            log.info(
                "offboarding %s: a suspension of %s is already open (%s); nothing more filed",
                who,
                request.email,
                dup.existing.id,
                extra={"user": who, "request_id": dup.existing.id, "outcome": "duplicate"},
            )
            return None
        except StoreUnanswered:
            try:
                return await filed_after_all(store, request)
            except FilingLost as lost:
                log.warning(
                    "offboarding %s: the store lost its answer to filing %s (%s)",
                    who,
                    request.id,
                    "cannot tell" if lost.unknown else "not filed",
                    extra={"user": who, "request_id": request.id, "outcome": "store_lost"},
                )
                return None

    async def _show(self, request: InviteRequest) -> None:
        """The card of a suspension made at once: what was done, in the approval channel."""
        assert self.channel is not None
        steps = self.filing.steps
        try:
            ts = await steps.notifier.post_card(self.channel, approval_card(request))
        except CardNotPosted as exc:
            log.warning("offboarding card for %s not posted: %s", request.id, exc)
            return
        steps.changed(await steps.store.set_card(request.id, self.channel, ts) or request)

    async def _tell(self, note: Reply) -> None:
        assert self.channel is not None
        try:
            await self.filing.steps.notifier.post_card(self.channel, note)
        except CardNotPosted as exc:
            log.warning("offboarding note not posted in %s: %s", self.channel, exc)
