"""`/chime suspend`, `unsuspend`, `logout`, `reset-pin` and `license`: file a lifecycle change
for approval, or run it at once where the account's policy needs none (all of it after the
ack: locating the users takes Chime calls)."""

from __future__ import annotations

from bot.approvals.change_filing import ChangeAsked
from bot.deps import Deps
from bot.slack import commands
from bot.store import Change
from handlers.context import Invocation, reply_later

ChangeCommand = (
    commands.Suspend | commands.Unsuspend | commands.Logout | commands.ResetPin | commands.License
)


def asked_for(cmd: ChangeCommand) -> ChangeAsked:
    """The command as the approval engine takes it."""
    if isinstance(cmd, commands.Suspend):
        return ChangeAsked(Change.SUSPEND, cmd.emails, cmd.reason)
    if isinstance(cmd, commands.Unsuspend):
        return ChangeAsked(Change.UNSUSPEND, cmd.emails, cmd.reason)
    if isinstance(cmd, commands.Logout):
        return ChangeAsked(Change.LOGOUT, (cmd.email,), cmd.reason)
    if isinstance(cmd, commands.ResetPin):
        return ChangeAsked(Change.RESET_PIN, (cmd.email,))
    return ChangeAsked(Change.LICENSE, (cmd.email,), cmd.reason, cmd.license_type)


async def handle(cmd: ChangeCommand, inv: Invocation, deps: Deps) -> None:
    asked = asked_for(cmd)
    await reply_later(
        inv, deps, lambda: deps.approvals.file_change(asked, inv.user_id, inv.channel_id)
    )
