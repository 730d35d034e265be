"""`/chime help`: the usage card, showing what this user may do here (authz as a dry run) and
who can approve now, with the approver groups' members read from Slack."""

from __future__ import annotations

from bot.approvers import ApproversUnknown
from bot.authz import Policy
from bot.cards import HelpEntry, Reply, approvers_block, help_card
from bot.commands import SYNTAX, Help
from bot.deps import Deps
from handlers.context import Invocation, reply_later, reply_now

ENTRIES = [
    HelpEntry(
        *SYNTAX["user"],
        "Look up a person's Amazon Chime account and user details (only you see it).",
    ),
    HelpEntry(
        *SYNTAX["invite"], "Ask for a new Chime user. An approver creates it with one click."
    ),
    HelpEntry(
        "/chime invite",
        "/chime invite",
        "The same request as a form, which lists the accounts you can choose. The shortcut "
        "“Request a Chime user” opens it too.",
    ),
]
APPROVER_ENTRIES = [HelpEntry(*SYNTAX["pending"], "List open requests awaiting a decision.")]


def help_reply(
    deps: Deps,
    user_id: str,
    unknown: str | None = None,
    policy: Policy | None = None,
    problem: str | None = None,
) -> Reply:
    """`policy` is the one with its groups expanded; without it, the listed users alone."""
    policy = policy or deps.policy
    approver = policy.is_approver(user_id).allowed
    entries = ENTRIES + (APPROVER_ENTRIES if approver else [])
    note = f"I don't know the subcommand “{unknown}”. Here is what I can do:" if unknown else None
    role = (
        "You are an approver: you can decide on other people's requests."
        if approver
        else ("Requests are decided by the approvers your admin listed.")
    )
    extra = approvers_block(policy.approvers, policy.approver_groups, problem)
    return help_card(entries, note=note, footer=role, extra=extra)


async def handle(cmd: Help, inv: Invocation, deps: Deps) -> None:
    if not deps.approvers.groups:
        await reply_now(inv, deps, help_reply(deps, inv.user_id, cmd.unknown), "help")
        return

    async def expanded() -> tuple[Reply, str]:
        # Reading the groups takes a Slack call, so this card comes after the ack.
        try:
            policy, problem = await deps.approvers.policy(), None
        except ApproversUnknown as exc:
            policy, problem = deps.policy, f"{exc.message} {exc.hint or ''}".strip()
        return help_reply(deps, inv.user_id, cmd.unknown, policy, problem), "help"

    await reply_later(inv, deps, expanded)
