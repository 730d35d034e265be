"""`/chime help`: the usage card, showing what this user may do here (authz as a dry run)."""

from __future__ import annotations

from bot.cards import HelpEntry, Reply, help_card
from bot.commands import SYNTAX, Help
from bot.deps import Deps
from handlers.context import Invocation, reply_now

ENTRIES = [
    HelpEntry(
        *SYNTAX["user"],
        "Look up a person's Amazon Chime account and user details (only you see it).",
    ),
    HelpEntry(
        *SYNTAX["invite"], "Ask for a new Chime user. An approver creates it with one click."
    ),
]
APPROVER_ENTRIES = [HelpEntry(*SYNTAX["pending"], "List open requests awaiting a decision.")]


def help_reply(deps: Deps, user_id: str, unknown: str | None = None) -> Reply:
    approver = deps.policy.is_approver(user_id).allowed
    entries = ENTRIES + (APPROVER_ENTRIES if approver else [])
    note = f"I don't know the subcommand “{unknown}”. Here is what I can do:" if unknown else None
    role = (
        "You are an approver: you can decide on other people's requests."
        if approver
        else ("Requests are decided by the approvers your admin listed.")
    )
    return help_card(entries, note=note, footer=role)


async def handle(cmd: Help, inv: Invocation, deps: Deps) -> None:
    await reply_now(inv, deps, help_reply(deps, inv.user_id, cmd.unknown), "help")
