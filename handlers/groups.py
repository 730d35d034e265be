"""`subteam_members_changed`: an approver group's members changed, so forget the cached list at
once (a removed member loses the power now, not at the end of the TTL) and read it again."""

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
