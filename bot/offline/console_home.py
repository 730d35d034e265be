"""The console's App Home: `home` opens the current user's Home tab as Slack would (an
`app_home_opened` event, signed, over HTTP), and its buttons are pressed as clicks in that tab
(bot/offline/standin_home.py builds them as Slack does: no channel, no message, no response_url).

A tab is shown when it was published anew since the console last showed it: after `home`, and
after a click in it (a refused click's reason appears at the top of the clicker's tab).
"""

from __future__ import annotations

from typing import Any

from bot.offline.slack_standin import Exchange, SlackStandIn
from bot.offline.wiring import OfflineBot

# Where a shown message keeps the Home view it came from, so a click on it is a click in the tab.
VIEW_KEY = "home_view"


class HomeTabs:
    """Which versions of each user's Home tab the console has shown."""

    def __init__(self, slack: SlackStandIn) -> None:
        self.slack = slack
        self._seen: dict[str, int] = {}

    def news(self, user: str) -> list[tuple[str, dict[str, Any]]]:
        """(caption, message) for `user`'s tab if it was published since last shown."""
        published = self.slack.home.publishes_for(user)
        if published <= self._seen.get(user, 0) or user not in self.slack.home.views:
            return []
        self._seen[user] = published
        view = self.slack.home.views[user]
        message = {"text": "App Home", "blocks": view["blocks"], VIEW_KEY: view}
        return [(f"{user}'s App Home tab (only {user} sees it)", message)]


def home_view_of(message: dict[str, Any]) -> dict[str, Any] | None:
    view = message.get(VIEW_KEY)
    return view if isinstance(view, dict) else None


async def press(
    bot: OfflineBot, view: dict[str, Any], label: str, value: str, user: str
) -> Exchange:
    """Press the button `label` carrying `value` in a Home tab, as `user`."""
    return await bot.sender.click_home(label, user_id=user, value=value or None, view=view)
