"""Messages the bot posts on its own initiative through the Web API: approval cards, their
in-place updates, and notes to requesters."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.ids import USER_ID
from bot.slack.message import Reply

log = logging.getLogger("chime_bot.notify")


class CardNotPosted(Exception):
    """Slack refused the approval card; the reason is Slack's error code, e.g. not_in_channel."""


class Notifier:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post_card(self, channel: str, reply: Reply) -> str:
        """Post a message and return its `ts`."""
        try:
            resp = await self.client.chat_postMessage(
                channel=channel, text=reply.text, blocks=reply.blocks
            )
        except SlackApiError as exc:
            raise CardNotPosted(str(exc.response.get("error", "unknown_error"))) from exc
        return str(resp["ts"])

    async def post_in_thread(self, channel: str, thread_ts: str, reply: Reply) -> str:
        """Reply in the thread of the message at `thread_ts` (chat.postMessage's `thread_ts`);
        returns the reply's `ts`. Raises CardNotPosted with Slack's error code."""
        try:
            resp = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=reply.text, blocks=reply.blocks
            )
        except SlackApiError as exc:
            raise CardNotPosted(str(exc.response.get("error", "unknown_error"))) from exc
        return str(resp["ts"])

    async def update_card(self, channel: str, ts: str, reply: Reply) -> bool:
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=reply.text, blocks=reply.blocks
            )
            return True
        except SlackApiError as exc:
            # The store holds the truth; a card that could not be updated is only stale.
            log.warning("could not update card %s/%s: %s", channel, ts, exc.response.get("error"))
            return False

    async def direct_only(self, user_id: str, reply: Reply) -> None:
        """A direct message and nothing else: no ephemeral fallback in a channel, for what only
        its recipient may see (a reset PIN). Raises CardNotPosted with Slack's error code."""
        try:
            opened = await self.client.conversations_open(users=user_id)
            await self.client.chat_postMessage(
                channel=opened["channel"]["id"], text=reply.text, blocks=reply.blocks
            )
        except SlackApiError as exc:
            raise CardNotPosted(str(exc.response.get("error", "unknown_error"))) from None

    async def tell_user(self, user_id: str, fallback_channel: str, reply: Reply) -> bool:
        """A direct message, or an ephemeral note in `fallback_channel` if DMs are refused.
        A requester that is no Slack user (the bot itself, filing an offboarding suspension)
        is told nothing: its card in the approval channel is the record."""
        if not USER_ID.fullmatch(user_id):
            log.debug("no one to tell: %s is not a Slack user", user_id[:32])
            return False
        try:
            opened = await self.client.conversations_open(users=user_id)
            await self.client.chat_postMessage(
                channel=opened["channel"]["id"], text=reply.text, blocks=reply.blocks
            )
            return True
        except SlackApiError as exc:
            log.info(
                "DM to %s failed (%s); trying an ephemeral note", user_id, exc.response.get("error")
            )
        try:
            await self.client.chat_postEphemeral(
                channel=fallback_channel, user=user_id, text=reply.text, blocks=reply.blocks
            )
            return True
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", user_id, exc.response.get("error"))
            return False
