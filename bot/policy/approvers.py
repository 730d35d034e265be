"""Who can approve now: the users CHIME_APPROVERS lists, plus the members of its user groups.

Members come from Slack's usergroups.users.list
(docs.slack.dev/reference/methods/usergroups.users.list): `{"ok": true, "users": ["U...", "W..."]}`,
with the bot scope usergroups:read, errors such as no_such_subteam, plan_upgrade_required and
missing_scope, and a Tier 2 rate limit (20+ calls a minute). Hence a cache per group: members
are trusted for CHIME_GROUP_CACHE_TTL, fetched once however many checks wait on them, and
forgotten at once when Slack sends `subteam_members_changed` for the group
(docs.slack.dev/reference/events/subteam_members_changed: it names the group in `subteam_id` and
carries only the delta, so the next check reads the whole list again). An event reaches one
replica; the others follow within the TTL.

The bot never passes `include_disabled`, so a disabled group grants no one anything. The
reference does not say whether Slack then answers with an empty list or an error; either way no
one gains the power through that group (an error fails closed, an empty list adds no one).
Disabling a group sends no `subteam_members_changed`, but it does send `subteam_updated`
(docs.slack.dev/reference/events/subteam_updated: "may also arise when a subteam has been
disabled", with a nonzero `date_delete`): on it the group counts as having no members, at once,
for the TTL, after which Slack is asked again like for any group.

Fails closed: if a group's members cannot be read (a Slack error, an HTTP error, no answer in
time, an answer without a list of user IDs) the check that needed them refuses and says why, and
nothing is cached, so the next check asks Slack again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, RealClock
from bot.errors import BotError
from bot.policy.authz import Decision, Policy
from bot.slack.ids import USER_ID

log = logging.getLogger("chime_bot.approvers")

# A check someone waits on (a click, /chime invite) gives Slack this long to list a group.
GROUP_FETCH_TIMEOUT = 5.0
MAX_ERROR_CODE = 60  # Slack's error codes are short; a longer one is cut, not echoed whole

# What each of Slack's answers means for the operator, and what fixes it.
_WHY = {
    "missing_scope": (
        "the app lacks the usergroups:read scope",
        "Add usergroups:read to the app's bot scopes (manifest.yml) and reinstall it.",
    ),
    "no_such_subteam": (
        "Slack has no user group with that ID",
        "Fix CHIME_APPROVERS: list the group's ID (S...), from the group's profile in Slack. "
        "On an org-wide install, SLACK_GROUPS_TEAM_ID names the team the group is in.",
    ),
    "plan_upgrade_required": (
        "this Slack workspace's plan has no user groups",
        "List approvers by user ID (U...) in CHIME_APPROVERS instead.",
    ),
    "ratelimited": ("Slack is limiting how often the bot may ask", "Try again in a minute."),
    # An org-wide (Enterprise Grid) token must name the group's team. Slack documents no error
    # for a missing one; apps have met missing_argument (lyft/omnibot#44, slack-cleaner#101).
    "missing_argument": (
        "Slack wants to know which workspace of the organization the group is in",
        "Set SLACK_GROUPS_TEAM_ID to the group's workspace (T...) or organization (E...).",
    ),
}
TRY_AGAIN = "Try again in a minute; if it keeps failing, ask whoever runs this bot."


class ApproversUnknown(BotError):
    title = "Could not check who may approve"

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason  # why, without the consequence: for `chime-bot check`


Fetch = Callable[[str], Awaitable[frozenset[str]]]


def slack_fetch(
    client: AsyncWebClient,
    timeout: float | None = None,
    team: Callable[[], str | None] = lambda: None,
) -> Fetch:
    """Read one group's members with usergroups.users.list, or raise ApproversUnknown.

    `team` gives the `team_id` an Enterprise Grid org-wide token must name (bot/slack/grid.py),
    or None: asked at each read, since the token's kind is known only once auth.test answered."""

    async def fetch(group: str) -> frozenset[str]:
        limit = GROUP_FETCH_TIMEOUT if timeout is None else timeout
        where = team()
        try:
            async with asyncio.timeout(limit):
                if where:
                    resp = await client.usergroups_users_list(usergroup=group, team_id=where)
                else:  # a workspace token: the call exactly as before Grid
                    resp = await client.usergroups_users_list(usergroup=group)
            users = resp.get("users")
        except SlackApiError as exc:
            raise unknown(group, _error_code(exc)) from None
        except TimeoutError:
            raise unknown(group, "", f"Slack did not answer within {limit:g} s") from None
        except Exception as exc:
            # aiohttp's connection errors come in many types, and slack_sdk raises
            # AttributeError on an HTTP error whose body is not JSON (a proxy's 502 page).
            log.warning("usergroups.users.list for %s failed: %s", group, type(exc).__name__)
            why = "Slack could not be reached or gave no usable answer"
            raise unknown(group, "", why) from None
        if not isinstance(users, list) or not all(
            isinstance(u, str) and USER_ID.fullmatch(u) for u in users
        ):
            raise unknown(group, "", "Slack's answer held no list of user IDs")
        return frozenset(users)

    return fetch


def _error_code(exc: SlackApiError) -> str:
    data: Any = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code:
        return code[:MAX_ERROR_CODE]
    return f"HTTP {getattr(exc.response, 'status_code', '?')}"


def unknown(group: str, code: str, why: str | None = None) -> ApproversUnknown:
    known = _WHY.get(code)
    reason = why or (known[0] if known else f"Slack answered {code}")
    if known is not None and why is None:
        reason = f"{reason} ({code})"
    return ApproversUnknown(
        f"Could not read the members of the approver group {group} from Slack: {reason}. "
        "Without them the bot cannot tell who may approve, so nothing was done.",
        reason=reason,
        hint=known[1] if known else TRY_AGAIN,
    )


@dataclass
class Approvers:
    """The approver policy with its groups expanded, cached per group."""

    base: Policy  # as the settings give it: the users listed directly, and the group IDs
    fetch: Fetch
    ttl: float
    clock: Clock = field(default_factory=RealClock)
    # The groups of every account's policy (CHIME_POLICY_FILE): cached and refreshed on change
    # events like the base's, whichever policy asks.
    more_groups: frozenset[str] = frozenset()
    _members: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _loading: dict[str, asyncio.Task[frozenset[str]]] = field(default_factory=dict)
    _version: dict[str, int] = field(default_factory=dict)

    @property
    def groups(self) -> frozenset[str]:
        return self.base.approver_groups | self.more_groups

    async def policy(self, base: Policy | None = None) -> Policy:
        """Every approver of `base` (default: the settings' policy) now, groups expanded;
        raises ApproversUnknown if a group can't be read."""
        policy, unreadable = await self.expanded(base)
        if unreadable is not None:
            raise unreadable
        return policy

    async def expanded(self, base: Policy | None = None) -> tuple[Policy, ApproversUnknown | None]:
        """`base` with the members of every group that could be read, and why one could not
        (the first, in ID order), if one could not. Members only add approvers, so a yes from
        this policy stands whatever the unread groups hold; a no is only sure without one."""
        base = base or self.base
        if not base.approver_groups:
            return base, None
        found = await asyncio.gather(
            *(self.members(g) for g in sorted(base.approver_groups)), return_exceptions=True
        )
        members: frozenset[str] = frozenset()
        unreadable: ApproversUnknown | None = None
        for result in found:
            if isinstance(result, ApproversUnknown):
                unreadable = unreadable or result
            elif isinstance(result, BaseException):
                raise result
            else:
                members |= result
        return base.with_members(members), unreadable

    async def check(
        self, question: Callable[[Policy], Decision], base: Policy | None = None
    ) -> Decision:
        """Ask `question` of the listed users first: members only add approvers, so a yes there
        stands, and Slack is asked only when its answer could change the outcome. A group that
        cannot be read refuses only what the groups that could be read do not allow."""
        base = base or self.base
        verdict = question(base)
        if verdict.allowed or not base.approver_groups:
            return verdict
        policy, unreadable = await self.expanded(base)
        verdict = question(policy)
        if verdict.allowed or unreadable is None:
            return verdict
        message, hint = unreadable.message, unreadable.hint
        return Decision(False, f"{message} {hint}" if hint else message)

    def changed(self, group: str) -> None:
        """Slack said the group's members changed: forget them, and any read in flight."""
        self._members.pop(group, None)
        self._loading.pop(group, None)
        self._version[group] = self._version.get(group, 0) + 1

    def disabled(self, group: str) -> None:
        """Slack said the group is disabled: no members, from now until the TTL has passed (a
        later read asks Slack, which lists a disabled group's members to no one)."""
        self.changed(group)
        self._members[group] = (self.clock.monotonic(), frozenset())

    async def members(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None and self.clock.monotonic() - cached[0] < self.ttl:
            return cached[1]
        task = self._loading.get(group)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(group), name=f"group:{group}")
            self._loading[group] = task
            task.add_done_callback(lambda done: self._loaded(group, done))
        # Shielded: one waiter giving up (its click job cancelled) must not fail the others.
        return await asyncio.shield(task)

    async def _load(self, group: str) -> frozenset[str]:
        version = self._version.get(group, 0)
        started = self.clock.monotonic()
        members = await self.fetch(group)
        if self._version.get(group, 0) == version:  # not overtaken by a change event
            self._members[group] = (started, members)
        return members

    def _loaded(self, group: str, task: asyncio.Task[frozenset[str]]) -> None:
        if self._loading.get(group) is task:
            del self._loading[group]
        if not task.cancelled():
            task.exception()  # retrieved here, so a read no one waits for anymore is not logged
