"""`/chime help`: the usage card, showing what this user may do here (authz as a dry run) and
who can approve now, with the approver groups' members read from Slack. With CHIME_POLICY_FILE,
the dry run is per account: which accounts this person may request for from this channel (and
which user types), and which they may approve for. "May approve" is bot/policy/deciders.py's
answer, the one a click gets."""

from __future__ import annotations

from functools import partial

from bot.cards.base import HelpEntry, HelpGroup, Reply, approvers_block, help_card
from bot.cards.policy import DryRun, dry_run_blocks
from bot.chime.accounts import DIRECTORY_ACCOUNTS
from bot.deps import Deps
from bot.errors import ChimeError
from bot.policy.approvers import ApproversUnknown
from bot.policy.authz import Policy
from bot.slack.commands import SYNTAX, Help
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
        "/chime invite <email> … --for <duration>",
        "/chime invite ada@example.com --for 30d contractor",
        "Access that ends: counted from approval, at least 1h (8h, 30d, 2w), then the bot "
        "suspends the user. Some accounts allow only so long.",
    ),
    HelpEntry(
        "/chime invite",
        "/chime invite",
        "The same request as a form, which lists the accounts you can choose. The shortcut "
        "“Request a Chime user” opens it too.",
    ),
]
APPROVER_ENTRIES = [HelpEntry(*SYNTAX["pending"], "List open requests awaiting a decision.")]
# The lifecycle commands (issue 21). What needs approval is bot/config/policy_actions.py's
# built-in layer (NO_APPROVAL_BUILT_IN), which an account's entry in the policy file may change
# for all but invites; this says so rather than work it out per account (the dry run does not).
CHANGES = HelpGroup(
    "Change a user",
    (
        HelpEntry(
            *SYNTAX["suspend"],
            "Suspend users and sign them out (up to 50 at once, one card for all of them).",
        ),
        HelpEntry(*SYNTAX["unsuspend"], "Let suspended users sign in again."),
        HelpEntry(*SYNTAX["logout"], "Sign a user out of every device."),
        HelpEntry(
            *SYNTAX["reset-pin"],
            "Give a user a new meeting PIN. Only its owner sees it, in a direct message.",
        ),
        HelpEntry(*SYNTAX["license"], "Change a user's license, to one their account supports."),
        HelpEntry(
            *SYNTAX["access"],
            "List who has time-bound access now and when each one ends (only you see it).",
        ),
    ),
    "Each change waits for an approver, as an invite does, except resetting your own PIN, "
    "which happens at once. Your admin's policy file may say otherwise for an account.",
)


def help_reply(
    deps: Deps,
    approver: bool,
    unknown: str | None = None,
    policy: Policy | None = None,
    problem: str | None = None,
) -> Reply:
    """`approver`: whether the user decides requests (`Deciders.anywhere`); `policy` is the one
    with its groups expanded, for the list of approvers; without it, the listed users alone."""
    policy = policy or deps.policy
    entries = ENTRIES + (APPROVER_ENTRIES if approver else [])
    note = f"I don't know the subcommand “{unknown}”. Here is what I can do:" if unknown else None
    role = (
        "You are an approver: you can decide on other people's requests."
        if approver
        else ("Requests are decided by the approvers your admin listed.")
    )
    extra = approvers_block(policy.approvers, policy.approver_groups, problem)
    return help_card(entries, note=note, footer=role, extra=extra, groups=[CHANGES])


async def dry_run(deps: Deps, user: str, channel: str) -> DryRun:
    """The policy file's answers for `user` in `channel`, account by account, as filing and
    deciding would give them (fail closed: an unreadable group grants nothing here either)."""
    book, run = deps.approvals.book, DryRun()
    try:
        accounts = await deps.directory.all_accounts()
    except ChimeError as exc:
        run.problems.append(f"Could not list the Chime accounts: {exc.message}")
        return run
    deciders = deps.approvals.deciders
    for account in accounts:
        try:
            # As a click on a request for it is decided: without the account list.
            if await deciders.approves_for(user, account.account_id, account.name):
                run.may_approve.append(account.name)
        except ApproversUnknown as exc:
            run.problems.append(exc.message)
        rules = book.for_account(account.account_id, account.name, accounts)
        if rules.blocked:
            continue
        if account.is_suspended or account.account_type in DIRECTORY_ACCOUNTS:
            continue  # the bot adds no one there, whatever the policy says
        if not rules.may_request_from(channel, account.name).allowed:
            continue
        filing = await deps.approvers.check(
            partial(Policy.may_file, requester_id=user, required=rules.approvals_required),
            rules.rules,
        )
        if filing.allowed:
            run.may_request.append((account.name, rules.user_types))
    run.problems = list(dict.fromkeys(run.problems))
    return run


async def handle(cmd: Help, inv: Invocation, deps: Deps) -> None:
    if deps.approvals.book.from_file:

        async def per_account() -> tuple[Reply, str]:
            run = await dry_run(deps, inv.user_id, inv.channel_id)
            entries = ENTRIES + (APPROVER_ENTRIES if run.may_approve else [])
            note = f"I don't know the subcommand “{cmd.unknown}”. Here is what I can do:"
            return help_card(
                entries,
                note=note if cmd.unknown else None,
                extra=dry_run_blocks(run),
                groups=[CHANGES],
            ), "help"

        await reply_later(inv, deps, per_account)
        return
    deciders = deps.approvals.deciders
    if not deps.approvers.groups:
        approver = await deciders.anywhere(inv.user_id)  # the listed users: no Slack call
        await reply_now(inv, deps, help_reply(deps, approver, cmd.unknown), "help")
        return

    async def expanded() -> tuple[Reply, str]:
        # Reading the groups takes a Slack call, so this card comes after the ack. A group
        # that cannot be read leaves out its own members, and no one else.
        policy, unreadable = await deps.approvers.expanded()
        problem = None if unreadable is None else f"{unreadable.message} {unreadable.hint or ''}"
        try:
            approver = await deciders.anywhere(inv.user_id)
        except ApproversUnknown:
            approver = deciders.listed_anywhere(inv.user_id)
        return help_reply(deps, approver, cmd.unknown, policy, problem and problem.strip()), "help"

    await reply_later(inv, deps, expanded)
