"""Block Kit for a bulk invite: one approval card for all its requests, and the requester's notes.

A batch is N ordinary requests (one per email) sharing `batch_id`; everything here is rendered
from all of them, plus the addresses skipped at filing. Emails, reasons, account names, Chime
IDs and errors are plain text (`listing`, `says`, `fields`, `plain`); mrkdwn holds only fixed
wording, mentions of Slack-issued IDs, dates and counts. With 50 addresses, the longest ones
(254 characters) and long errors, the card stays within Slack's limits: each row is one line,
rows are packed into sections of at most 3,000 characters, and there are at most ~30 blocks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from bot.cards.approval import (
    ActionId,
    BlockId,
    approvals_line,
    approve_confirm,
    asking,
    button,
    channel_ref,
    lapsed_blocks,
    result_line,
    state_blocks,
    user_ref,
)
from bot.cards.base import (
    Block,
    Reply,
    clean,
    context,
    epoch_date,
    fields,
    header,
    listing,
    literal,
    plain,
    says,
    section,
    shorten,
)
from bot.cards.changes import ran_unapproved, wording
from bot.store.model import Change, InviteRequest, Status

MAX_OUTCOME = 300  # one address's outcome on its line: a long Chime error is cut here


def lead_of(members: list[InviteRequest]) -> InviteRequest:
    """The batch's first request: its ID is the batch's, and the one the buttons carry."""
    return next((m for m in members if m.id == m.batch_id), members[0])


def in_order(members: list[InviteRequest]) -> list[InviteRequest]:
    return sorted(members, key=lambda m: (m.email, m.id))


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing to decide, as every list shows it (`/chime pending`, App Home): a request, or
    a bulk invite's requests together under one ID, its lead's, which its buttons carry."""

    id: str
    requests: tuple[InviteRequest, ...]  # the ones listed, in the order given

    @property
    def lead(self) -> InviteRequest:
        """The request that stands for the entry: the bulk invite's lead if it is listed."""
        return lead_of(list(self.requests))

    @property
    def lead_listed(self) -> bool:
        return self.lead.id == self.id

    @property
    def is_bulk(self) -> bool:
        return self.lead.batch_id is not None


def entries(requests: list[InviteRequest]) -> list[Entry]:
    """`requests` as entries, in the order of each entry's first request."""
    grouped: dict[str, list[InviteRequest]] = {}
    for request in requests:
        grouped.setdefault(request.batch_id or request.id, []).append(request)
    return [Entry(key, tuple(members)) for key, members in grouped.items()]


def outcome(member: InviteRequest) -> str:
    """Where one address stands, in plain words (plain text: it may quote Chime)."""
    if member.status == Status.APPROVED:
        said = result_line(member)
    elif member.status == Status.FAILED:
        said = f"failed: {member.error or 'unknown error'}"
    else:
        said = {
            Status.PENDING: "awaiting approval",
            Status.APPROVING: "working…",
            Status.DENIED: "denied, nothing " + _done(member),
            Status.EXPIRED: "expired, nothing " + _done(member),
        }.get(member.status, member.status.value)
    return shorten(clean(said), MAX_OUTCOME)


def _done(member: InviteRequest) -> str:
    return "created" if member.change == Change.INVITE else "changed"


def member_rows(members: list[InviteRequest]) -> list[str]:
    return [f"{m.email} — {outcome(m)}" for m in in_order(members)]


def skipped_rows(skipped: Mapping[str, str]) -> list[str]:
    return [
        f"{email} — skipped: {shorten(clean(why), MAX_OUTCOME)}"
        for email, why in sorted(skipped.items())
    ]


def _counts(members: list[InviteRequest]) -> str:
    counts = Counter(m.status for m in members)
    words = {
        Status.APPROVED: "done",
        Status.FAILED: "failed",
        Status.APPROVING: "working",
        Status.PENDING: "awaiting approval",
        Status.DENIED: "denied",
        Status.EXPIRED: "expired",
    }
    return ", ".join(f"{counts[s]} {word}" for s, word in words.items() if counts[s])


def batch_word(members: list[InviteRequest]) -> str:
    """The batch's state in one word or two, for fallback texts."""
    statuses = {m.status for m in members}
    lead = lead_of(members)
    if lead.status == Status.PENDING:
        return "Awaiting approval"
    if statuses & {Status.PENDING, Status.APPROVING}:
        return "Approved, working" if lead.status != Status.DENIED else "Denied"
    if statuses == {Status.APPROVED}:
        return "Approved"
    if Status.FAILED in statuses:
        return "Partly failed" if Status.APPROVED in statuses else "Failed"
    return {Status.DENIED: "Denied", Status.EXPIRED: "Expired"}.get(lead.status, "Done")


def batch_card(
    members: list[InviteRequest],
    skipped: Mapping[str, str],
    lapsed: Mapping[str, str] | None = None,
) -> Reply:
    """The approvers' card for a bulk invite, in whatever state its requests are now;
    `lapsed`: earlier approvals of its lead that no longer count, with why."""
    lead = lead_of(members)
    count = len(members)
    words = wording(lead)
    asks = f"{user_ref(lead.requester)} {words.many.format(count=count)}"
    title = (
        f"Amazon Chime users request ({count} addresses)"
        if lead.change == Change.INVITE
        else f"{words.title} ({count} addresses)"
    )
    blocks: list[Block] = [header(title), *asking(asks, lead.reason)]
    kind: tuple[str, object] = (
        ("User type", lead.user_type)
        if lead.change == Change.INVITE
        else ("What happens", f"Each is {words.effect}.")
    )
    blocks += fields(
        [
            kind,
            ("Account", f"{clean(lead.account_name)} ({clean(lead.account_type)})"),
            ("Account ID", lead.account_id),
        ]
    )
    if lead.change != Change.INVITE:
        runs = f"*Approval runs* `{words.operation}` once, with all {count} users:"
    elif lead.account.is_team:
        runs = f"*Approval runs* `InviteUsers` once, with all {count} addresses:"
    else:
        runs = f"*Approval runs* `CreateUser` once for each of the {count} addresses:"
    blocks.append(section(runs))
    blocks += listing(member_rows(members))
    if skipped:
        blocks.append(section(f"*Skipped* ({len(skipped)}), not part of this request:"))
        blocks += listing(skipped_rows(skipped))
    blocks.append(
        context(
            "Request",
            plain(lead.id),
            f"filed {epoch_date(lead.created_at)} in {channel_ref(lead.origin_channel)} · "
            f"expires {epoch_date(lead.expires_at)}",
        )
    )
    blocks += lapsed_blocks(lead, lapsed)
    blocks += _batch_state_blocks(lead, members)
    text = (
        f"{batch_word(members)}: Chime {words.noun} {literal(lead.id)} for {count} addresses "
        f"in {literal(lead.account_name)}"
    )
    return Reply(text=text, blocks=blocks)


def _batch_state_blocks(lead: InviteRequest, members: list[InviteRequest]) -> list[Block]:
    counts = Counter(m.status for m in members)
    by, when = user_ref(lead.decided_by), epoch_date(lead.decided_at or lead.updated_at)
    if lead.status == Status.PENDING:
        progress = [section(approvals_line(lead))] if lead.approvals_required > 1 else []
        return [
            *progress,
            {
                "type": "actions",
                "block_id": BlockId.DECISION.value,
                "elements": [
                    button(
                        f"Approve all {len(members)}",
                        ActionId.APPROVE,
                        lead.id,
                        "primary",
                        approve_confirm(lead, len(members)),
                    ),
                    button("Deny all", ActionId.DENY, lead.id, "danger"),
                ],
            },
        ]
    if counts[Status.PENDING] or counts[Status.APPROVING]:
        verb = "Denied" if lead.status == Status.DENIED else "Approved"
        return [
            section(
                f":hourglass_flowing_sand: *{verb}* by {by} {when}; working on "
                f"{counts[Status.PENDING] + counts[Status.APPROVING]} of them now…"
            )
        ]
    if lead.status in (Status.EXPIRED, Status.DENIED):
        return state_blocks(lead)  # worded as for a single request
    blocks = [section(f":white_check_mark: *Approved* by {by} {when}: {_counts(members)}.")]
    failed = counts[Status.FAILED]
    if failed:
        blocks += [
            context(
                "Approvers can retry the ones that failed; a retry first checks "
                + (
                    "whether each was created after all"
                    if lead.change == Change.INVITE
                    else f"for each {wording(lead).retry_checks}"
                )
                + ", and leaves the others alone."
            ),
            {
                "type": "actions",
                "block_id": BlockId.RETRY.value,
                "elements": [
                    button(f"Retry the {failed} that failed", ActionId.RETRY, lead.id, "primary")
                ],
            },
        ]
    return blocks


def batch_filed_note(members: list[InviteRequest], skipped: Mapping[str, str], where: str) -> Reply:
    lead = lead_of(members)
    blocks: list[Block] = [
        says(
            f"⏳ Request {lead.id} {wording(lead).to_do} {len(members)} addresses "
            f"{'to' if lead.change == Change.INVITE else 'in'} {clean(lead.account_name)} "
            "awaits approval."
        ),
        *listing(member_rows(members)),
    ]
    if skipped:
        blocks.append(section(f"*Skipped* ({len(skipped)}), not filed:"))
        blocks += listing(skipped_rows(skipped))
    blocks.append(
        context(
            f"Approvers decide in {channel_ref(where)}. You'll get a direct message when they do."
        )
    )
    return Reply(
        text=f"Request {literal(lead.id)} for {len(members)} addresses awaits approval",
        blocks=blocks,
    )


def nothing_filed_note(skipped: Mapping[str, str]) -> Reply:
    return Reply(
        text=f"Nothing was filed: all {len(skipped)} addresses were skipped",
        blocks=[
            section(f"ℹ️ Nothing was filed: all {len(skipped)} addresses were skipped."),
            *listing(skipped_rows(skipped)),
        ],
    )


def batch_outcome_note(members: list[InviteRequest]) -> Reply:
    """What the requester is told once every request of the batch is settled."""
    lead = lead_of(members)
    word = batch_word(members)
    by = user_ref(lead.decided_by)
    words = wording(lead)
    headline = {
        "Denied": f"was *denied* by {by}. {words.nothing}",
        # Its deadline, not when a sweep or a click noticed it had passed.
        "Expired": f"*expired* {epoch_date(lead.expires_at)} without a decision. File a new one "
        "if it is still needed.",
    }.get(
        word,
        f"was *done* (the account's policy needs no approval for it): {_counts(members)}."
        if ran_unapproved(lead)
        else f"was *approved* by {by}: {_counts(members)}.",
    )
    blocks: list[Block] = [
        section(f"Your Chime {words.noun} for {len(members)} addresses {headline}"),
        says(f"Request {lead.id} in {clean(lead.account_name)}:"),
        *listing(member_rows(members)),
    ]
    if Status.FAILED in {m.status for m in members}:
        blocks.append(context("Approvers can retry the ones that failed."))
    return Reply(text=f"{word}: your Chime request for {len(members)} addresses", blocks=blocks)
