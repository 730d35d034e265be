"""`/chime pending`: the open requests, one entry for each thing to decide, oldest first.

A bulk invite is one entry, as on its card and in App Home (`bot.cards.batch.entries`): its ID
(the one its buttons carry), every address still open in it, and where it stands as a whole.
Emails and account names are plain text (`says`); mrkdwn holds only mentions, ages and fixed
wording.
"""

from __future__ import annotations

from bot.cards.approval import channel_ref, status_word, user_ref
from bot.cards.base import Block, Reply, clean, context, header, plain, says, section
from bot.cards.batch import Entry, batch_word, entries, in_order
from bot.cards.changes import what_is_asked
from bot.store.model import Change, InviteRequest

MAX_LISTED = 20  # 2 blocks each, a header, a footer and the problems: within Slack's 50


MAX_PROBLEMS = 3  # one line per approver group Slack could not list; the rest are alike


def pending_list(
    requests: list[InviteRequest], now: float, problems: list[str] | None = None
) -> Reply:
    """`problems`: why some requests may be missing (a group that decides them could not be
    read); the words come partly from Slack, so they are plain text."""
    listed = entries(requests)
    unread = [context(plain(f"Not shown: {p}")) for p in (problems or [])[:MAX_PROBLEMS]]
    if not listed:
        if unread:  # not a 🎉: some may be missing
            none = [section("No open Chime requests that you can be shown now."), *unread]
            return Reply(text="No open Chime requests shown", blocks=none)
        return Reply(
            text="No open Chime requests", blocks=[section(":tada: No open Chime requests.")]
        )
    blocks: list[Block] = [header(f"Open Chime requests ({len(listed)})")]
    for entry in listed[:MAX_LISTED]:
        blocks += _entry(entry, now)
    if len(listed) > MAX_LISTED:
        blocks.append(context(f"…and {len(listed) - MAX_LISTED} more, oldest first."))
    return Reply(text=f"{len(listed)} open Chime requests", blocks=blocks + unread)


def _entry(entry: Entry, now: float) -> list[Block]:
    lead = entry.lead
    where = f" · card in {channel_ref(lead.card_channel)}" if lead.card_channel else ""
    account = clean(lead.account_name)
    if entry.is_bulk:
        members = in_order(list(entry.requests))
        count = len(members)
        state = batch_word(members).lower()
        kind = "bulk invite" if lead.change == Change.INVITE else clean(what_is_asked(lead))
        summary = says(
            f"{entry.id}  {kind} of {count} address{'es' if count != 1 else ''} → "
            f"{account} · {state}",
            ", ".join(clean(m.email) for m in members),
        )
    else:
        summary = says(
            f"{entry.id}  {clean(what_is_asked(lead))}: {clean(lead.email)} → {account} · "
            f"{status_word(lead).lower()}"
        )
    age = _age(now - lead.created_at)
    return [summary, context(f"from {user_ref(lead.requester)} {age} ago{where}")]


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
