"""Sending replies to Slack's `response_url` over one shared HTTP session.

Bolt's `respond()` opens a new HTTP session per call; a shared one keeps lookups cheap under load.

A `response_url` arrives inside the request, so it is only as trustworthy as the request's
signature. Replies go to Slack alone: `https://hooks.slack.com/` (where Slack's reference says
response URLs live), or the origin of `SLACK_API_URL` when that points at a stand-in. Anywhere
else the reply is not sent, redirects are never followed (a hook that redirects could hand the
reply, with a user's card in it, to any host), and a failed post logs its status, never its body.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from yarl import URL

from bot.slack.message import Reply

log = logging.getLogger("chime_bot.replies")

Origin = tuple[str, str, int]
SLACK_HOOKS: Origin = ("https", "hooks.slack.com", 443)
SLACK_API_URL = "https://slack.com/api/"  # the default of Settings.slack_api_url: Slack itself


def origin(url: URL) -> Origin | None:
    if not url.absolute or url.scheme not in ("http", "https") or url.port is None:
        return None
    return url.scheme, (url.host or "").lower(), url.port


def slack_origins(api_url: str = SLACK_API_URL) -> frozenset[Origin]:
    """Where replies may go: Slack's hooks, and a stand-in's origin if SLACK_API_URL names one."""
    found = {SLACK_HOOKS}
    if api_url != SLACK_API_URL:
        stand_in = origin(URL(api_url))
        if stand_in is not None:
            found.add(stand_in)
    return frozenset(found)


class Responder:
    def __init__(self, session: ClientSession, allowed: frozenset[Origin] | None = None) -> None:
        self.session = session
        self.allowed = allowed if allowed is not None else slack_origins()

    def target(self, response_url: str) -> URL | None:
        """The URL to post to, parsed once by the parser aiohttp uses; None if it is not Slack's.

        User info is refused too: `https://hooks.slack.com@evil.example/` is a login name
        `hooks.slack.com` on the host `evil.example`."""
        try:
            url = URL(response_url)
        except (ValueError, TypeError):
            return None
        if url.user is not None or url.password is not None or origin(url) not in self.allowed:
            return None
        return url

    async def send(
        self,
        response_url: str,
        reply: Reply,
        *,
        replace_original: bool = False,
        ephemeral: bool = True,
    ) -> bool:
        url = self.target(response_url)
        if url is None:
            # Real Slack never sends one; the request was signed, so it is a misconfigured
            # stand-in or a leaked signing secret. Nothing is posted, and the host is not logged.
            log.warning("reply not sent: response_url is not a Slack URL")
            return False
        body: dict[str, Any] = {
            **reply.as_message(),
            "response_type": "ephemeral" if ephemeral else "in_channel",
        }
        # Said explicitly: Slack's default differs between slash commands and button clicks.
        body["replace_original"] = replace_original
        try:
            async with self.session.post(
                url, json=body, timeout=ClientTimeout(total=10), allow_redirects=False
            ) as resp:
                if resp.status != 200:
                    log.warning("response_url answered %s", resp.status)
                    return False
                return True
        except (ClientError, TimeoutError) as exc:
            log.warning("could not post to response_url: %s", type(exc).__name__)
            return False
