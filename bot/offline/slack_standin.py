"""A local stand-in for Slack: both what the bot calls and what calls the bot.

The demo, the console, the benchmark and the tests all use it, so the bot is always exercised
through the same door that real Slack uses. This module is its public face; import from here.
The parts:

- bot/offline/standin_server.py: `SlackStandIn`, an aiohttp server for the Web API methods the
  bot uses (at `SLACK_API_URL`), every response_url and Socket Mode, recording all of it; the
  token checks, outages and per-method faults (`MethodFault`) it can play.
- bot/offline/standin_methods.py: the workspace it plays and each method's answer (chat.*,
  conversations.*, usergroups.users.list, auth.test), with `PostedMessage` for what was posted;
  people in bot/offline/standin_people.py (users.info, users.lookupByEmail), modals in
  bot/offline/standin_views.py and Home tabs in bot/offline/standin_home.py.
- bot/offline/standin_sender.py: `SlackSender`, Slack's side: slash commands, clicks,
  shortcuts, submissions and events, built and signed as Slack does and sent to the bot, each
  an `Exchange` (the ack, then what arrives at its response_url).
"""

from __future__ import annotations

from bot.offline.standin_methods import (
    BOT_USER_ID,
    MANIFEST_SCOPES,
    TEAM_ID,
    PostedMessage,
    SlackWorkspace,
)
from bot.offline.standin_sender import Exchange, SlackSender, buttons, find_button
from bot.offline.standin_server import RESPONSE_URL_LIMIT, ApiCall, MethodFault, SlackStandIn

__all__ = [
    "BOT_USER_ID",
    "MANIFEST_SCOPES",
    "RESPONSE_URL_LIMIT",
    "TEAM_ID",
    "ApiCall",
    "Exchange",
    "MethodFault",
    "PostedMessage",
    "SlackSender",
    "SlackStandIn",
    "SlackWorkspace",
    "buttons",
    "find_button",
]
