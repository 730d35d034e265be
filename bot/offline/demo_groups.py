"""User groups for the offline Slack stand-in, so `console` and `demo` can show a group approver
(issue 13, parts 1 and 7) without a Slack workspace.

The stand-in answers usergroups.users.list from its `usergroups` table; an unknown group gets
no_such_subteam, and the bot then fails closed. Offline there is no workspace to read a group
from, so every group CHIME_APPROVERS names is given made-up members here, and the console says
which: the made-up settings' own group, or one named in the environment.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.offline.slack_standin import SlackStandIn
from bot.offline.standin_people import Person
from bot.offline.wiring import DEMO_APPROVER
from bot.slack.ids import GROUP_ID

DEMO_APPROVER_GROUP = "S0CHIMEADMINS"
# Two members, so a two-approval request can be approved by the group alone.
DEMO_GROUP_MEMBERS = ("U0APPROVER2", "U0APPROVER3")
# Their profiles, with addresses of Chime users the emulator seeds, as wiring.DEMO_PEOPLE.
DEMO_GROUP_PEOPLE = {
    "U0APPROVER2": Person("barbara@example.com", "Barbara Liskov"),
    "U0APPROVER3": Person("edsger@example.com", "Edsger Dijkstra"),
}


def demo_approvers() -> str:
    """The made-up CHIME_APPROVERS: one user listed directly, and one user group."""
    return f"{DEMO_APPROVER},{DEMO_APPROVER_GROUP}"


def groups_in(approvers: Iterable[str]) -> list[str]:
    return [a for a in approvers if GROUP_ID.fullmatch(a)]


def define_groups(slack: SlackStandIn, approvers: Iterable[str]) -> list[str]:
    """Give each user group among `approvers` the made-up members in the stand-in (a group the
    stand-in already knows keeps its own); returns the groups defined."""
    groups = groups_in(approvers)
    for group in groups:
        slack.usergroups.setdefault(group, list(DEMO_GROUP_MEMBERS))
    if groups:
        for user, person in DEMO_GROUP_PEOPLE.items():
            slack.people.by_id.setdefault(user, person)
    return groups


def groups_line(approvers: Iterable[str]) -> str:
    """What the console's banner says about the groups: who stands in as their members."""
    groups = groups_in(approvers)
    if not groups:
        return ""
    members = ", ".join(DEMO_GROUP_MEMBERS)
    named = ", ".join(groups)
    return f" User group{'s' if len(groups) > 1 else ''} {named}: members {members} (made up)."
