"""`user_change`: a Slack user's data changed; when it says they were deactivated (`user.deleted`
true; docs.slack.dev/reference/events/user_change), their Chime user is offboarded as
CHIME_OFFBOARDING says (bot/approvals/offboarding.py).

Slack wants the event acked within 3 s, and offboarding asks Chime and the store, so the work
runs after the ack, as a job. Over HTTP the door (bot/web/http_guard.py) has rebuilt the event
from checked fields and dropped every `user_change` that is not a deactivation; over Socket Mode
the event is read as defensively here: anything of another shape does nothing.
"""

from __future__ import annotations

from typing import Any

from bot.approvals.offboarding import Departure
from bot.deps import Deps
from bot.slack.ids import USER_ID
from bot.slack.people import MAX_EMAIL


def departure(event: dict[str, Any]) -> Departure | None:
    """The deactivation an event tells of; None for anything else (a profile edit, a bot, a
    malformed event)."""
    user = event.get("user")
    if not isinstance(user, dict) or user.get("deleted") is not True:
        return None
    user_id = user.get("id")
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id) or user.get("is_bot"):
        return None
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    return Departure(user_id, email if is_address(email) else None)


def is_address(value: object) -> bool:
    """An address as a Slack profile holds one: one @, no spaces, within RFC 5321's length."""
    return (
        isinstance(value, str)
        and 3 <= len(value) <= MAX_EMAIL
        and value.count("@") == 1
        and not any(c.isspace() for c in value)
    )


async def on_user_change(deps: Deps, event: dict[str, Any]) -> None:
    gone = departure(event)
    if gone is None:
        return
    if deps.approvals.offboarding == "off":
        deps.log.debug("Slack user %s was deactivated; offboarding is off", gone.slack_user)
        return

    async def offboard() -> None:
        await deps.approvals.offboard(gone)

    if not deps.jobs.spawn(offboard(), name=f"offboard:{gone.slack_user}"):
        # Slack does not send a deactivation again once it has been acked: say what was lost.
        deps.log.warning(
            "offboarding %s not done: the bot is too busy; suspend them with /chime suspend",
            gone.slack_user,
        )
