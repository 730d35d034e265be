"""`app_home_opened`: someone opened the app's Home tab, so publish it afresh
(bot/approvals/home.py).

The event (docs.slack.dev/reference/events/app_home_opened) names the `user` and the `tab`
("home", or "messages" for the app's DM tab, which shows nothing of ours). Over HTTP the door
(bot/web/http_guard.py) has checked both; over Socket Mode they are checked here as well.
"""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.slack.ids import USER_ID


async def on_home_opened(deps: Deps, event: dict[str, Any]) -> None:
    user = event.get("user")
    if deps.home is None or event.get("tab") != "home":
        return
    if isinstance(user, str) and USER_ID.fullmatch(user):
        deps.home.opened(user)
