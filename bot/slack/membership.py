"""Whether a user is in a channel, as Slack says: for the request form opened from the global
shortcut, whose channel picker offers any conversation, while a request counts as coming from
the channel chosen (and the policy's channel list decides who may request for which account).

Asked with conversations.members (docs.slack.dev/reference/methods/conversations.members): "a
paginated list of members party to a conversation", user IDs in `members`, the next page's
cursor in `response_metadata.next_cursor` (empty on the last page), "no more than 200 results
at a time" recommended; bot scopes channels:read for public channels and groups:read for
private ones (both already in manifest.yml); errors such as channel_not_found (also what a
private channel the bot is not in looks like), fetch_members_failed,
method_not_supported_for_channel_type; Tier 4 (100+ calls a minute).

Fails closed: whatever keeps Slack from saying yes (an error, no answer in time, an answer that
is not a list of user IDs, more pages than MAX_PAGES) is `MembershipUnknown`, which refuses.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BotError
from bot.slack.ids import USER_ID

log = logging.getLogger("chime_bot.membership")

PAGE = 200  # the reference's recommended page size
MAX_PAGES = 50  # 10,000 members: beyond that, a channel is no sign of anything
TIMEOUT = 5.0  # the whole check, every page included
MAX_ERROR_CODE = 60

_WHY = {
    "channel_not_found": (
        "the bot cannot see that channel (a private channel it is not in looks the same)"
    ),
    "missing_scope": "the app lacks the channels:read or groups:read scope",
    "ratelimited": "Slack is limiting how often the bot may ask",
    "method_not_supported_for_channel_type": "that is not a channel requests can come from",
}


class MembershipUnknown(BotError):
    title = "Could not check the channel"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Slack could not say whether you are in that channel: {why}. Nothing was filed.",
            hint="Choose a channel you are in, or try again in a minute.",
        )
        self.why = why


async def is_member(
    client: AsyncWebClient, channel: str, user: str, *, timeout: float = TIMEOUT
) -> bool:
    """Whether `user` is in `channel`; MembershipUnknown if Slack cannot say."""
    try:
        async with asyncio.timeout(timeout):
            cursor = ""
            for _ in range(MAX_PAGES):
                args: dict[str, Any] = {"channel": channel, "limit": PAGE}
                if cursor:
                    args["cursor"] = cursor
                resp = await client.conversations_members(**args)
                members, cursor = resp.get("members"), _next_cursor(resp.get("response_metadata"))
                if not isinstance(members, list) or not all(
                    isinstance(m, str) and USER_ID.fullmatch(m) for m in members
                ):
                    raise MembershipUnknown("Slack's answer held no list of user IDs")
                if user in members:
                    return True
                if not cursor:
                    return False
    except SlackApiError as exc:
        code = _error_code(exc)
        raise MembershipUnknown(_WHY.get(code, f"Slack answered {code}")) from None
    except TimeoutError:
        raise MembershipUnknown(f"Slack did not answer within {timeout:g} s") from None
    except MembershipUnknown:
        raise
    except Exception as exc:
        # aiohttp's connection errors, or slack_sdk on a body that is not JSON (a proxy's page).
        log.warning("conversations.members for %s failed: %s", channel, type(exc).__name__)
        raise MembershipUnknown("Slack could not be reached or gave no usable answer") from None
    raise MembershipUnknown(f"the channel has more than {PAGE * MAX_PAGES} members")


def _next_cursor(metadata: object) -> str:
    cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
    return cursor if isinstance(cursor, str) else ""


def _error_code(exc: SlackApiError) -> str:
    data: Any = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code:
        return code[:MAX_ERROR_CODE]
    return f"HTTP {getattr(exc.response, 'status_code', '?')}"
