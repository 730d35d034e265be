"""Reminders: one nudge, in the approval card's thread, for a request left undecided too long.

Every replica's sweep looks at the pending requests filed at least CHIME_REMIND_AFTER ago. A
reminder is claimed in the store before it is posted, as a decision is: `claim_reminder` is one
conditional write that one caller wins, and only while the request is pending and unexpired.
Only the winner posts. Then:

- Slack took the post: the store records it as sent, with a "reminded" audit event, and no sweep
  anywhere claims that request's reminder again.
- Slack refused it, or the call failed (a network error or timeout, when the post may even have
  landed): the claim is released, with a "reminder_failed" audit event and a retry time
  RETRY_AFTER ahead, and the first sweep after that, on any replica, tries again for as long as
  the request stays pending. Released rather than retried in place, so a sweep never waits on a
  struggling Slack, and paced, so a post Slack refuses for good (the bot removed from the
  channel) costs one call and one audit line per RETRY_AFTER, not one per sweep. A failure whose
  post did land may so give a second reminder: one too many beats none.
- The replica died between its claim and the record: the claim lapses after LEASE and a later
  sweep takes over (again at worst a second reminder, if Slack had taken the first).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.cards.approval import approvals_missing
from bot.cards.base import Reply, clean, context, epoch_date, literal, says, section
from bot.cards.changes import wording
from bot.clock import Clock
from bot.policy.authz import Policy
from bot.policy.effective import Policies
from bot.slack.ids import GROUP_ID, USER_ID
from bot.slack.notify import CardNotPosted, Notifier
from bot.store import AuditEvent, InviteRequest, RequestStore, Status
from bot.store.model import SYSTEM

log = logging.getLogger("chime_bot.reminders")
# Far longer than one chat.postMessage with slack_sdk's 30 s timeout and its retry.
LEASE = 600.0
RETRY_AFTER = 300.0
# Slack user-group IDs begin with S (usergroups.* reference: "id": "S0614TZR7").
# Room for the mentions in the section (3,000) and the fallback text (4,000), with the wording.
MENTIONS_BUDGET = 1500
POST_INTERVAL = 1.0  # seconds between one sweep's reminders in one channel


def mention(approver: str) -> str | None:
    """The mrkdwn mention of an approver: `<@U…>` for a user, `<!subteam^S…>` for a user group
    (Slack's "Formatting text for app surfaces": mentioning users, mentioning groups). Anything
    else is never echoed into mrkdwn: None."""
    if USER_ID.fullmatch(approver):
        return f"<@{approver}>"
    if GROUP_ID.fullmatch(approver):
        return f"<!subteam^{approver}>"
    return None


def mentions(approvers: Iterable[str], budget: int = MENTIONS_BUDGET) -> str:
    """Every approver's mention, space-separated, or as many as fit and how many more there are.
    A mention is never cut: a half mention would show as text and ping no one."""
    tokens = [token for token in (mention(a) for a in approvers) if token is not None]
    shown: list[str] = []
    used = 0
    for index, token in enumerate(tokens):
        if used + len(token) + 1 > budget:
            shown.append(f"and {len(tokens) - index} more")
            break
        shown.append(token)
        used += len(token) + 1
    return " ".join(shown)


def reminder_note(request: InviteRequest, approvers: Iterable[str]) -> Reply:
    """The reminder: mentions and dates in the bot's own mrkdwn, the request's data plain."""
    who = mentions(approvers)
    blocks = [
        section(
            f":bell: {who or 'Approvers'}: this Chime {wording(request).noun} is still waiting "
            f"for a decision.{_still_needed(request)} It was filed "
            f"{epoch_date(request.created_at)} and expires {epoch_date(request.expires_at)}; "
            "please approve or deny it on the card above."
        ),
        says(
            f"Request {request.id}: {clean(request.email)}"
            + (" and the other addresses on the card" if request.batch_id else "")
            + f" in {clean(request.account_name)}"
        ),
        context("This is its only reminder. The requester is told when it is decided or expires."),
    ]
    to = f" for {who}" if who else ""
    text = (
        f"Reminder{to}: Chime {wording(request).noun} {literal(request.id)} for "
        f"{literal(request.email)} "
        "awaits a decision"
    )
    return Reply(text=text, blocks=blocks)


def _still_needed(request: InviteRequest) -> str:
    """How many approvals a request under the two-person rule still needs; '' under one."""
    if request.approvals_required <= 1:
        return ""
    missing = approvals_missing(request)
    return (
        f" It needs {missing} more approval{'s' if missing > 1 else ''} "
        f"({len(request.approvals)} of {request.approvals_required} so far), each from a "
        "different approver."
    )


@dataclass
class Reminders:
    store: RequestStore
    notifier: Notifier
    policy: Policy
    clock: Clock
    remind_after: float  # seconds after filing
    policies: Policies | None = None  # per-account approvers (CHIME_POLICY_FILE)
    _last_post: dict[str, float] = field(default_factory=dict)  # channel -> monotonic

    def approvers_of(self, request: InviteRequest) -> list[str]:
        """Who can decide `request`: its account's approvers but its requester and those who
        approved already (their approval counts once), in a stable order; then each of the
        account's approver user groups, mentioned as a group (Slack cannot leave one member out
        of a group mention)."""
        policy = self.policy
        if self.policies is not None:
            policy = self.policies.for_account(request.account_id, request.account_name).rules
        done = {request.requester, *request.approvals}
        users = sorted(a for a in policy.approvers if a not in done)
        return users + sorted(policy.approver_groups)

    def is_due(self, request: InviteRequest, now: float) -> bool:
        return (
            request.status == Status.PENDING
            and not request.is_expired(now)
            and request.created_at + self.remind_after <= now
            # Without a card there is no thread to remind in (and no one could approve).
            and bool(request.card_channel and request.card_ts)
            # A bulk invite has one card and gets one reminder: its lead's
            # (bot/approvals/batches.py).
            and request.batch_id in (None, request.id)
        )

    async def send_due(self) -> int:
        """Send the reminders that are due and that this caller wins; returns how many."""
        now = self.clock.now()
        sent = 0
        self._last_post.clear()
        for request in await self.store.list_by_status(Status.PENDING):
            if not self.is_due(request, now):
                continue
            try:
                sent += await self._remind(request)
            except Exception:
                # One request's trouble (a store error) must not hold up the others; an unsent
                # reminder stays claimable once its claim lapses.
                log.exception(
                    "could not remind about %s", request.id, extra={"request_id": request.id}
                )
        return sent

    async def _remind(self, request: InviteRequest) -> bool:
        token = await self.store.claim_reminder(request, now=self.clock.now(), lease=LEASE)
        if token is None:
            return False  # sent already, claimed elsewhere, waiting to retry, or decided
        channel, thread = str(request.card_channel), str(request.card_ts)
        approvers = self.approvers_of(request)
        await self._pace(channel)
        try:
            ts = await self.notifier.post_in_thread(
                channel, thread, reminder_note(request, approvers)
            )
        except Exception as exc:
            why = str(exc) if isinstance(exc, CardNotPosted) else type(exc).__name__
            await self._release(request, token, why)
            return False
        recorded = await self.store.reminder_sent(
            request.id,
            AuditEvent(
                request.id,
                self.clock.now(),
                SYSTEM,
                "reminded",
                {
                    "channel": channel,
                    "thread_ts": thread,
                    "ts": ts,
                    "approvers": ",".join(approvers),
                },
            ),
        )
        if not recorded:
            # Only a claim that outlived LEASE can lose here: a second reminder went out.
            log.warning("reminder for %s was sent twice", request.id)
        log.info(
            "reminded approvers of %s",
            request.id,
            extra={"request_id": request.id, "outcome": "reminded"},
        )
        return True

    async def _pace(self, channel: str) -> None:
        """Wait until POST_INTERVAL has passed since this sweep's last post in `channel`: the
        reminders of one sweep all go to the approval channel, where Slack allows about one
        message a second (docs.slack.dev/reference/methods/chat.postMessage, rate limiting: it
        "will generally allow an app to post 1 message per second to a specific channel",
        with some bursting). On the injected clock, so tests move time instead of waiting."""
        last = self._last_post.get(channel)
        if last is not None:
            wait = last + POST_INTERVAL - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
        self._last_post[channel] = self.clock.monotonic()

    async def _release(self, request: InviteRequest, token: str, why: str) -> None:
        now = self.clock.now()
        retry_at = now + RETRY_AFTER
        log.warning(
            "reminder for %s not posted (%s); trying again after %s",
            request.id,
            why,
            datetime.fromtimestamp(retry_at, UTC).isoformat(timespec="seconds"),
            extra={"request_id": request.id, "outcome": "reminder_failed"},
        )
        event = AuditEvent(
            request.id, now, SYSTEM, "reminder_failed", {"error": why, "retry_at": str(retry_at)}
        )
        await self.store.release_reminder(request.id, token, retry_at=retry_at, event=event)
