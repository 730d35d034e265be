"""Sending replies to Slack's `response_url` over one shared HTTP session.

Bolt's `respond()` opens a new HTTP session per call; a shared one keeps lookups cheap under load.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from bot.cards import Reply

log = logging.getLogger("chime_bot.replies")


class Responder:
    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def send(
        self,
        response_url: str,
        reply: Reply,
        *,
        replace_original: bool = False,
        ephemeral: bool = True,
    ) -> bool:
        body: dict[str, Any] = {
            **reply.as_message(),
            "response_type": "ephemeral" if ephemeral else "in_channel",
        }
        # Said explicitly: Slack's default differs between slash commands and button clicks.
        body["replace_original"] = replace_original
        try:
            async with self.session.post(
                response_url, json=body, timeout=ClientTimeout(total=10)
            ) as resp:
                if resp.status != 200:
                    log.warning(
                        "response_url answered %s: %s", resp.status, (await resp.text())[:200]
                    )
                    return False
                return True
        except (ClientError, TimeoutError) as exc:
            log.warning("could not post to response_url: %s", type(exc).__name__)
            return False
