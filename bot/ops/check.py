"""`chime-bot check`: is every credential, permission and setting right, before going live?

Each check is independent and names the real cause of a failure with the fix that fits it, so
one run shows everything to mend. Settings were validated before (bot/config/settings.py), by the
same code `serve` runs, so check can never pass a value serve would refuse. Optional settings that
are unset are a note (✓), never a failure; a setup in which no invite could be approved is one.
Check only reads: it creates no store and writes no file.

This module holds the order in which the checks run (an earlier failure makes later checks moot,
and they say so), the settings-only lines and the rendering. The checks themselves are small
functions by the side they talk to: bot/ops/check_slack.py, bot/ops/check_aws.py and, for
CHIME_POLICY_FILE, bot/ops/policy_report.py; all return bot/ops/check_result.py's Check.
"""

from __future__ import annotations

import asyncio

from bot.aws_clock import AwsClock
from bot.chime import Calls, Directory, RetryPolicy, chime_client
from bot.clock import Clock, RealClock
from bot.config.settings import ConfigError, Settings, load_settings
from bot.ops.check_aws import (
    aws_identity,
    chime_access,
    chime_lookups,
    clock_offset,
    default_account,
    request_store,
)
from bot.ops.check_result import Check, failed, passed
from bot.ops.check_slack import (
    approver_groups,
    offboarding,
    posting,
    request_verification,
    slack_client,
    slack_token,
)
from bot.ops.policy_report import policy_results
from bot.store import store_table

# A check answers quickly: a short retry budget for Chime, whatever serve would use.
CHECK_RETRY_BUDGET = 5.0

__all__ = ["Check", "render", "run_checks"]


async def run_checks(
    settings: Settings | None = None, *, socket_mode: bool = False, clock: Clock | None = None
) -> list[Check]:
    """Every check; `settings` already validated by load_settings (the CLI's path), or read here.
    `clock`: this machine's, as serve would read it (the last line compares it with AWS's)."""
    if settings is None:
        try:
            settings = load_settings("check")
        except ConfigError as exc:
            return [failed("Settings", "; ".join(exc.problems), "Fix the values named above.")]
    socket = settings.wants_socket_mode(socket_mode)
    region = settings.aws_region
    results = [passed("Settings", f"all values valid (AWS region: {region or 'none set'})")]
    slack = slack_client(settings)
    token = await slack_token(settings, slack)
    results.append(token)
    results.append(await request_verification(settings, socket))
    results.append(await aws_identity(settings))
    aws_clock = AwsClock(
        clock or RealClock(),
        bound=settings.chime_max_clock_skew,
        shared=store_table(settings.chime_store_url) is not None,
    )
    async with chime_client(max_pool_connections=2) as client:
        aws_clock.watch(client.meta.events, "Chime")
        calls = Calls(
            limit=asyncio.Semaphore(2),
            retry=RetryPolicy(budget=min(CHECK_RETRY_BUDGET, settings.chime_retry_budget)),
        )
        directory = Directory(client=client, calls=calls)
        endpoint = str(client.meta.endpoint_url)
        chime = await chime_access(directory, endpoint)
        results.append(chime)
        results.append(await default_account(settings, directory, chime.ok))
        results.append(await chime_lookups(client, endpoint, chime.ok))
        file_results = await policy_results(
            settings, directory, chime.ok, slack if token.ok else None
        )
    results += _policy(settings)
    # Before the policy lines, whose failures refer to these lines "above".
    results += await approver_groups(settings, slack if token.ok else None)
    results += file_results
    results += await posting(settings, slack if token.ok else None)
    results.append(await offboarding(settings, slack if token.ok else None))
    results.append(await request_store(settings, aws_clock))
    results.append(clock_offset(aws_clock))
    return results


def _policy(settings: Settings) -> list[Check]:
    checks = []
    if settings.policy_source:
        pass  # channels and approvers are per account: the policy lines below show them
    elif settings.chime_allowed_channels:
        checks.append(passed("Allowed channels", ", ".join(settings.chime_allowed_channels)))
    else:
        # Not optional in practice: with none, the bot refuses every command.
        checks.append(
            failed(
                "Allowed channels",
                "CHIME_ALLOWED_CHANNELS is empty: /chime is refused everywhere",
                "List the channel IDs where /chime may run.",
            )
        )
    if settings.policy_source:
        pass  # each account's line says who approves for it, and fails if no one can
    else:
        checks.append(_approvers(settings))
    if settings.chime_approval_channel:
        checks.append(passed("Approval channel", settings.chime_approval_channel))
    else:
        checks.append(
            passed("Approval channel", "not set (optional): cards go to each request's channel")
        )
    return checks


def _approvers(settings: Settings) -> Check:
    """CHIME_APPROVERS against CHIME_APPROVALS_REQUIRED. Users are counted here; with user
    groups, the "Approvers now" line counts their members."""
    listed = settings.chime_approvers
    required = settings.chime_approvals_required
    people = [a for a in listed if not a.startswith("S")]
    if not listed:
        return failed(
            "Approvers",
            "CHIME_APPROVERS is empty: lookups work, but no invite can ever be approved",
            "Set CHIME_APPROVERS to the Slack user or user-group IDs who approve invites.",
        )
    if len(people) == len(listed) and len(people) < required:
        return failed(
            "Approvers",
            f"{', '.join(listed)}: fewer than CHIME_APPROVALS_REQUIRED ({required}), so no "
            "invite can be approved",
            "Add approvers to CHIME_APPROVERS, or lower CHIME_APPROVALS_REQUIRED.",
        )
    return passed("Approvers", ", ".join(listed))


def render(results: list[Check]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        lines.append(f"{'✓' if r.ok else '✗'} {r.name:<{width}}  {r.detail}")
        if r.fix:
            lines.append(f"  {'':<{width}}  fix: {r.fix}")
    count = sum(r.ok for r in results)
    lines.append(f"\n{count} of {len(results)} checks passed.")
    return "\n".join(lines)
