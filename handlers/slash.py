"""The `/chime` entry point: parse, authorize, route. Everything here runs before the ack and makes
no network call, so the ack always goes out in milliseconds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.cards.base import error_card
from bot.cards.errors import error_reply, reply_for
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.slack import commands
from handlers import access as access_handler
from handlers import change as change_handler
from handlers import form as form_handler
from handlers import help as help_handler
from handlers import invite as invite_handler
from handlers import pending as pending_handler
from handlers import user as user_handler
from handlers.context import Ack, Invocation, reply_now

Handler = Callable[[Any, Invocation, Deps], Awaitable[None]]

# The slash command manifest.yml declares.
COMMAND = "/chime"


# How each command is named in logs and metrics.
SUBCOMMAND_NAMES: dict[type, str] = {
    commands.Help: "help",
    commands.LookupUser: "user",
    commands.Invite: "invite",
    commands.InviteForm: "invite_form",
    commands.Pending: "pending",
    commands.Suspend: "suspend",
    commands.Unsuspend: "unsuspend",
    commands.Logout: "logout",
    commands.ResetPin: "reset_pin",
    commands.License: "license",
    commands.Access: "access",
    commands.Invalid: "invalid",
}


async def _invalid(cmd: commands.Invalid, inv: Invocation, deps: Deps) -> None:
    error = InvalidInput(cmd.problem, hint=f"Usage: {cmd.usage}")
    await reply_now(inv, deps, error_reply(error), "invalid")


ROUTES: dict[type, Handler] = {
    commands.Help: help_handler.handle,
    commands.LookupUser: user_handler.handle,
    commands.Invalid: _invalid,
    commands.Invite: invite_handler.handle,
    commands.InviteForm: form_handler.from_command,
    commands.Pending: pending_handler.handle,
    commands.Suspend: change_handler.handle,
    commands.Unsuspend: change_handler.handle,
    commands.Logout: change_handler.handle,
    commands.ResetPin: change_handler.handle,
    commands.License: change_handler.handle,
    commands.Access: access_handler.handle,
}


async def on_command(deps: Deps, ack: Ack, command: dict[str, Any]) -> None:
    text = str(command.get("text") or "")
    parsed = commands.parse(text)
    inv = Invocation(
        user_id=str(command.get("user_id", "")),
        channel_id=str(command.get("channel_id", "")),
        response_url=str(command.get("response_url", "")),
        subcommand=SUBCOMMAND_NAMES[type(parsed)],
        ack=ack,
        trigger_id=str(command.get("trigger_id", "")),
    )
    try:
        decision = deps.policy.may_use_channel(inv.channel_id)
        if not decision.allowed:
            deps.log.warning(
                "refused by channel policy: %s",
                decision.reason,
                extra={**inv.log_fields(), "outcome": "refused"},
            )
            reply = error_card("/chime is not enabled in this channel", decision.reason)
            await reply_now(inv, deps, reply, "refused")
            return
        await ROUTES[type(parsed)](parsed, inv, deps)
    except Exception as exc:
        # Last line of defence: Slack must get a 200 with a readable answer, never a 5xx.
        await reply_now(inv, deps, reply_for(exc, deps.log, **inv.log_fields()), "error")
