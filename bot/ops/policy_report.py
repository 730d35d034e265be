"""`chime-bot check` on CHIME_POLICY_FILE: the effective policy of every account Chime has, as
the bot will apply it (channels, approvers with their groups' members read from Slack now,
approvals required, user types, TTL, which actions need approval, the longest access), and
every entry or account the file leaves ambiguous.

The file itself was validated by load_settings before check runs; this is what it means against
the accounts Chime has now.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.base import clean
from bot.chime.directory import Directory
from bot.config.policy_actions import ACTIONS
from bot.config.policy_file import shown
from bot.config.settings import ConfigError, Settings
from bot.durations import said
from bot.errors import ChimeError
from bot.models import Account
from bot.ops.check_result import Check
from bot.ops.check_slack import groups_team_of
from bot.policy.approvers import ApproversUnknown, Fetch, slack_fetch
from bot.policy.authz import Policy
from bot.policy.effective import AccountPolicy, Policies

FIX_ENTRY = (
    "Correct the entry's name in the policy file, or name the account by its account ID "
    "(the accounts Chime has are listed above)."
)


async def policy_results(
    settings: Settings, directory: Directory, chime_ok: bool, slack: AsyncWebClient | None
) -> list[Check]:
    if not settings.policy_source:
        return []
    try:
        book = Policies.from_settings(settings)
    except ConfigError as exc:  # changed since load_settings read it
        return [Check("Policy file", False, "; ".join(exc.problems), "Fix the file.")]
    assert book.file is not None
    entries = len(book.entries())
    default = "a default section" if book.file.default is not None else "no default section"
    plural = "entry" if entries == 1 else "entries"
    summary = (
        f"{settings.policy_source}: {entries} account {plural}, {default}; "
        f"/chime works in {', '.join(book.channels_listed()) or 'none'}"
    )
    results: list[Check] = [Check("Policy file", True, summary, None)]
    if not chime_ok:
        why = "not checked: Amazon Chime failed above"
        return [*results, Check("Policy per account", False, why, "Fix Amazon Chime first.")]
    try:
        accounts = await directory.all_accounts()
    except ChimeError as exc:
        return [*results, Check("Policy per account", False, exc.message, exc.hint or "Try again.")]
    fetch = None
    if slack is not None:
        team = await groups_team_of(settings, slack)
        fetch = slack_fetch(slack, team=lambda: team)
    for account in accounts:
        results.append(await _account(book, account, accounts, fetch))
    for key in book.unmatched(accounts):
        results.append(
            Check(
                f"Policy entry {shown(key)}",
                False,
                "matches no account Chime has; until it does, accounts the file does not name "
                "take no requests",
                FIX_ENTRY,
            )
        )
    return results


async def _account(
    book: Policies, account: Account, accounts: list[Account], fetch: Fetch | None
) -> Check:
    name = f"Policy for {clean(account.name)}"
    rules = book.for_account(account.account_id, account.name, accounts)
    if rules.blocked:
        return Check(name, False, clean(rules.blocked), "Fix the policy file as the message says.")
    approvers, problem, count = await _approvers(rules.rules, fetch)
    detail = (
        f"{account.account_id} ({rules.source}): channels {_ids(rules.rules.allowed_channels)}; "
        f"approvers {approvers}; approvals required {rules.approvals_required}; "
        f"user types {', '.join(rules.user_types)}; TTL {rules.ttl} s; {_actions(rules)}; "
        f"max access{_max_access(rules.max_access)}"
    )
    if problem is not None:
        return Check(name, False, f"{detail}; {problem}", "See the approver group checks above.")
    if count < rules.approvals_required:
        why = f"{detail}; fewer approvers than approvals required: no request could be approved"
        return Check(name, False, why, "Add approvers to its entry, or lower approvals_required.")
    if not rules.rules.allowed_channels:
        return Check(name, True, f"{detail}; no channel may request for it", None)
    return Check(name, True, detail, None)


async def _approvers(rules: Policy, fetch: Fetch | None) -> tuple[str, str | None, int]:
    """The approvers, each group followed by its members now, a problem if one can't be read,
    and how many people approve in all."""
    parts = sorted(rules.approvers)
    everyone = set(rules.approvers)
    problem = None
    for group in sorted(rules.approver_groups):
        if fetch is None:
            parts.append(f"{group} (members not read: the bot token failed above)")
            problem = "group members unknown"
            continue
        try:
            members = await fetch(group)
        except ApproversUnknown as exc:
            parts.append(f"{group} (members unknown: {exc.reason})")
            problem = "group members unknown"
            continue
        everyone |= members
        parts.append(f"{group} (members: {_ids(members)})")
    return (", ".join(parts) or "no one"), problem, len(everyone)


def _actions(rules: AccountPolicy) -> str:
    """Which actions wait for an approver and which go ahead, in ACTIONS' order."""
    needing = [a for a in ACTIONS if rules.needs_approval(a)]
    free = [a for a in ACTIONS if not rules.needs_approval(a)]
    if not free:
        return "approval for every action"
    return f"approval for {', '.join(needing)}; no approval for {', '.join(free)}"


def _max_access(seconds: int | None) -> str:
    return ": no cap" if seconds is None else f" {said(seconds)}"


def _ids(ids: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(ids)) or "none"
