"""Slack listeners, one module per subcommand; `register` wires them into a Bolt app."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.cards.access import AccessAction
from bot.cards.approval import ActionId
from bot.cards.form import CALLBACK_ID, SHORTCUT_ID
from bot.deps import Deps
from handlers.access import on_extend
from handlers.context import Ack
from handlers.decide import on_action
from handlers.form import on_shortcut, on_submission
from handlers.groups import on_group_updated, on_members_changed
from handlers.home import on_home_opened
from handlers.offboard import on_user_change
from handlers.slash import on_command


def register(app: AsyncApp, deps: Deps) -> None:
    # Bolt injects listener arguments by name, so these closures keep the exact names it expects.
    async def chime_command(ack: Ack, command: dict[str, Any]) -> None:
        await on_command(deps, ack, command)

    async def chime_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await on_action(deps, ack, body, action)

    async def extend_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await on_extend(deps, ack, body, action)

    async def group_changed(event: dict[str, Any]) -> None:
        await on_members_changed(deps, event)

    async def group_updated(event: dict[str, Any]) -> None:
        await on_group_updated(deps, event)

    async def home_opened(event: dict[str, Any]) -> None:
        await on_home_opened(deps, event)

    async def user_changed(event: dict[str, Any]) -> None:
        await on_user_change(deps, event)

    async def form_shortcut(ack: Ack, body: dict[str, Any]) -> None:
        await on_shortcut(deps, ack, body)

    async def form_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        await on_submission(deps, ack, body, view)

    app.command("/chime")(chime_command)
    app.shortcut(SHORTCUT_ID)(form_shortcut)
    app.view(CALLBACK_ID)(form_submitted)
    # Events are acked by Bolt itself once the listener returns (it runs before the response).
    app.event("subteam_members_changed")(group_changed)
    app.event("subteam_updated")(group_updated)
    app.event("app_home_opened")(home_opened)
    app.event("user_change")(user_changed)
    for action_id in ActionId:
        app.action(action_id.value)(chime_button)
    app.action(AccessAction.EXTEND.value)(extend_button)
