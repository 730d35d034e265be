"""`subteam_members_changed` and `subteam_updated`: an approver group's members changed, so
forget the cached list at once (a removed member loses the power now, not at the end of the TTL)
and read it again; or the group was disabled (`subteam_updated` with a nonzero `date_delete`,
docs.slack.dev/reference/events/subteam_updated), so it has no members from now on.

Over HTTP the door (bot/web/http_guard.py) has rebuilt both events from checked fields; over
Socket Mode they are read as defensively here."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.policy.approvers import ApproversUnknown


async def on_members_changed(deps: Deps, event: dict[str, Any]) -> None:
    group = str(event.get("subteam_id", ""))
    if group not in deps.approvers.groups:
        return  # a group that grants nothing here: nothing to forget
    deps.approvers.changed(group)
    deps.log.info("approver group %s changed; members will be read again", group)

    async def refresh() -> None:
        try:
            await deps.approvers.members(group)
        except ApproversUnknown as exc:  # the next check will ask again, and fail closed
            deps.log.warning("could not read approver group %s again: %s", group, exc.message)

    # Warms the cache for the next click; if the bot is too busy, that click reads it instead.
    deps.jobs.spawn(refresh(), name=f"group:{group}")


async def on_group_updated(deps: Deps, event: dict[str, Any]) -> None:
    group = event.get("subteam")
    group_id = group.get("id") if isinstance(group, dict) else None
    if not isinstance(group, dict) or group_id not in deps.approvers.groups:
        return
    deleted = group.get("date_delete", 0)
    if isinstance(deleted, int | float) and not isinstance(deleted, bool) and deleted == 0:
        await on_members_changed(deps, {"subteam_id": group_id})
        return
    # Disabled, or a date_delete the bot cannot read: no members (fail closed).
    deps.approvers.disabled(str(group_id))
    deps.log.info("approver group %s was disabled; its members approve nothing", group_id)
