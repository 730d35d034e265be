"""Where a reset PIN goes: a direct message to the Slack user whose email is the Chime user's,
and nowhere else (issue 21). Not a channel, a card, the requester's reply (unless they are the
owner), a log line, the audit trail or the store: what is stored is only where it went, or why
it went nowhere. The PIN stays a `SecretPin` until the one message that shows it is built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.cards.base import Reply, context, says, section
from bot.chime.lifecycle import PinReset
from bot.slack.notify import CardNotPosted, Notifier
from bot.store import InviteRequest

# The Slack user ID with this email (users.lookupByEmail), None if no one has it; raises when
# Slack cannot say (bot/slack/people.py).
UserByEmail = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class PinDelivery:
    notifier: Notifier
    user_by_email: UserByEmail

    async def __call__(self, request: InviteRequest, reset: PinReset) -> dict[str, str]:
        email = reset.user.email or request.email
        try:
            owner = await self.user_by_email(email)
        except Exception as exc:
            return {"pin_not_sent": f"Slack could not say who has this address ({_kind(exc)})"}
        if owner is None:
            return {"pin_not_sent": "no Slack user has this email address"}
        try:
            await self.notifier.direct_only(owner, pin_message(request, reset))
        except CardNotPosted as exc:
            return {"pin_not_sent": f"Slack refused the direct message ({exc})"}
        return {"pin_sent_to": owner}


def pin_message(request: InviteRequest, reset: PinReset) -> Reply:
    """The one message that shows the PIN. The fallback text (what notifications and lock
    screens show) does not hold it."""
    return Reply(
        text="Your Amazon Chime personal meeting PIN was reset",
        blocks=[
            section("Your Amazon Chime personal meeting PIN was reset. Your new PIN:"),
            says(reset.pin.reveal()),
            context(
                f"Request {request.id}. This message is the only place the bot shows it; you "
                "can also see it in your Amazon Chime settings."
            ),
        ],
    )


def _kind(exc: Exception) -> str:
    return type(exc).__name__
