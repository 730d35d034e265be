"""What the console says about the policy: where /chime works and who decides, in the banner
and in the notes `as` and `in` print.

Every answer is the running bot's own, as a command or a click gets it: the channel gate every
command passes (`Policies.gate`, listed by `Policies.channels_listed` as `chime-bot check` lists
it) and each account's approvers as the policy file gives them (bot/policy/effective.py), and
whether a user decides anything (`Deciders.anywhere`, asked of the running bot). Never
CHIME_ALLOWED_CHANNELS or CHIME_APPROVERS alone: a policy file adds channels and names
approvers per account.
"""

from __future__ import annotations

from bot.config.policy_file import shown
from bot.config.settings import Settings
from bot.offline.demo_groups import DEMO_GROUP_MEMBERS, groups_line
from bot.policy.effective import AccountPolicy, Policies
from bot.slack.ids import USER_ID


def channels_line(settings: Settings, book: Policies) -> str:
    where, gate = book.channels_listed(), book.gate()
    if not where:
        empty = "is empty" if not book.from_file else "list no channel"
        works = f"/chime works nowhere ({gate.channels_from} {empty})"
    else:
        works = "/chime works in " + ", ".join(f"#{c}" for c in where)
    s = settings
    cards = f"#{s.chime_approval_channel}" if s.chime_approval_channel else "their channel"
    return f"{works}; approval cards go to {cards}."


def _ids(rules: AccountPolicy) -> list[str]:
    return sorted(rules.rules.approvers) + sorted(rules.rules.approver_groups)


def approvers_line(settings: Settings, book: Policies, groups: frozenset[str]) -> str:
    """Who decides: CHIME_APPROVERS as listed, or, with a policy file, each account's
    approvers (its entry's, and the default's for the accounts it does not name)."""
    made_up = groups_line(sorted(groups))
    if not book.from_file:
        if not settings.chime_approvers:
            return "No approvers (CHIME_APPROVERS is empty), so no request can be decided."
        return f"Approvers: {', '.join(settings.chime_approvers)}.{made_up}"
    parts = [
        f"{', '.join(_ids(book.entry(key)))} for {shown(key)}"
        for key in book.entries()
        if _ids(book.entry(key))
    ]
    if _ids(book.default()):
        parts.append(f"{', '.join(_ids(book.default()))} for the accounts the file does not name")
    if not parts:
        return (
            "No approvers (the policy file and CHIME_APPROVERS name none), so no request can "
            "be decided."
        )
    return f"Approvers: {'; '.join(parts)}.{made_up}"


def an_approver(settings: Settings, book: Policies, groups: frozenset[str]) -> str | None:
    """A user to try deciding as: the first listed, else a made-up member of a group."""
    if book.from_file:
        ids = [i for p in book.everyone() for i in _ids(p)]
    else:
        ids = list(settings.chime_approvers)
    users = [i for i in ids if USER_ID.fullmatch(i)]
    if users:
        return users[0]
    return DEMO_GROUP_MEMBERS[0] if groups else None


def approver_note(answer: bool | str) -> str:
    """What `as` says of the user: the bot's answer (`Deciders.anywhere`), or why it has none."""
    if answer is True:
        return "an approver"
    if answer is False:
        return "not an approver"
    return f"approver or not is unknown now: {answer}"
