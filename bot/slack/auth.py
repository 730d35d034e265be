"""Slack credentials: verified once at start-up, then reused by Bolt for every request.

Bolt's `AsyncApp` cannot call `auth.test` in its constructor (it is synchronous), so on its own
it calls it on the first request, before the ack (bolt-python PR #180: `token_verification_enabled`
exists only for the sync `App`). A bad token would then surface only as Bolt's "installation no
longer available" reply, and an unreachable Slack as a failed first command. Instead `serve`
calls `auth.test` here before it reports ready, and Bolt is given an `authorize` function that
answers from that result with no network call: the hook Bolt's maintainers point to for apps
that already know their `AuthorizeResult` (bolt-python issue #158).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.backoff import backoff
from bot.slack.grid import groups_team, is_org_token

log = logging.getLogger("chime_bot.slack")

# auth.test errors that no retry can fix (https://docs.slack.dev/reference/methods/auth.test and
# Slack's common Web API errors): the token is wrong, missing, revoked, or its user or workspace
# is gone. Anything else (ratelimited, internal_error, service_unavailable, a 5xx, no answer at
# all) may pass, so it is retried.
REFUSALS = {
    "invalid_auth": "Slack does not accept it",
    "not_authed": "Slack received no token",
    "token_revoked": "it has been revoked (the app was uninstalled, or the token regenerated)",
    "account_inactive": "its bot user or workspace has been deactivated",
}

FIRST_DELAY = 1.0
MAX_DELAY = 30.0


# What to do about a refused credential, by setting.
FIXES = {
    "SLACK_BOT_TOKEN": "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions, "
    "reinstalling the app if it was removed",
    "SLACK_APP_TOKEN": "create an app-level token (xapp-...) with connections:write under "
    "Basic Information > App-Level Tokens",
}


class SlackCredentialsRefused(Exception):
    """Slack refused a credential for good: the operator has to fix a setting."""

    def __init__(self, setting: str, error: str) -> None:
        why = REFUSALS.get(error, "Slack refused it")
        fix = FIXES.get(setting, "check it")
        super().__init__(f"{setting} was refused by Slack ({error}): {why}. To fix: {fix}.")
        self.setting = setting
        self.error = error


def backoff_delays(first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> Callable[[], float]:
    """Exponential delays with jitter: 1, 2, 4 ... up to `cap` seconds, each scaled by 0.5-1.0
    so that replicas restarted together do not retry in step."""
    attempt = 0

    def next_delay() -> float:
        nonlocal attempt
        delay = backoff(attempt, base=first, cap=cap, floor=0.5)
        attempt += 1
        return delay

    return next_delay


def short_reason(exc: BaseException) -> str:
    """One line for a log: the exception's type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if isinstance(response.data, dict) else None
        text = (
            f"HTTP {response.status_code}, error={error}"
            if error
            else f"HTTP {response.status_code}"
        )
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SlackAuth:
    """The bot's verified identity in its workspace, and Bolt's `authorize` hook over it."""

    def __init__(self, client: AsyncWebClient, token: str) -> None:
        self._client = client
        self._token = token
        self.identity: AuthorizeResult | None = None
        self._auth_test: dict[str, Any] = {}  # auth.test's answer, once verified

    @property
    def verified(self) -> bool:
        return self.identity is not None

    async def verify(self) -> AuthorizeResult:
        """Call auth.test until Slack answers; see `call_until_answered`."""
        answer = await call_until_answered(
            lambda: self._client.auth_test(token=self._token),
            setting="SLACK_BOT_TOKEN",
            method="auth.test",
        )
        self._auth_test = dict(answer.data) if isinstance(answer.data, dict) else {}
        self.identity = AuthorizeResult.from_auth_test_response(
            auth_test_response=answer,
            bot_token=self._token,
            bot_scopes=answer.headers.get("x-oauth-scopes"),
        )
        log.info(
            "Slack credentials verified: bot %s in %s %s",
            self.identity.bot_user_id,
            "organization (org-wide install)" if self.org_install else "workspace",
            self.identity.team_id,
        )
        return self.identity

    @property
    def org_install(self) -> bool:
        """The token is an Enterprise Grid org-wide install's (bot/slack/grid.py)."""
        return is_org_token(self._auth_test)

    def groups_team(self, configured: str | None) -> str | None:
        """The `team_id` usergroups.users.list needs with this token (None: none needed, or not
        verified yet); `configured` is SLACK_GROUPS_TEAM_ID."""
        return groups_team(self._auth_test, configured)

    def authorizer(self) -> Callable[..., Awaitable[AuthorizeResult | None]]:
        """Bolt's per-request `authorize`: the start-up result, with the request's user, and no
        network call. (A plain function: Bolt passes arguments by the parameter names it sees.)

        None (Bolt then answers "installation no longer available") only before verification,
        which neither the HTTP server nor Socket Mode lets a request reach.
        """

        async def authorize(user_id: str | None) -> AuthorizeResult | None:
            identity = self.identity
            if identity is None:
                return None
            return AuthorizeResult(
                enterprise_id=identity.enterprise_id,
                team_id=identity.team_id,
                team=identity.team,
                url=identity.url,
                bot_user_id=identity.bot_user_id,
                bot_id=identity.bot_id,
                bot_token=identity.bot_token,
                bot_scopes=identity.bot_scopes,
                user_id=user_id,
            )

        return authorize


async def call_until_answered(
    call: Callable[[], Awaitable[AsyncSlackResponse]],
    *,
    setting: str,
    method: str,
) -> AsyncSlackResponse:
    """Call a Web API method that checks a credential until Slack answers it.

    A refusal (REFUSALS) raises SlackCredentialsRefused naming `setting`. An unreachable or
    failing Slack is retried with backoff, forever, with one short log line per attempt and no
    traceback: the cause is outside the bot, and the next line says whether it persists.
    """
    next_delay = backoff_delays()
    while True:
        wait = 0.0
        try:
            return await call()
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error in REFUSALS:
                raise SlackCredentialsRefused(setting, str(error)) from None
            reason = short_reason(exc)
            wait = max(wait, _retry_after(exc.response.headers))
        except (SlackClientError, ClientError, OSError, TimeoutError, ValueError) as exc:
            # SlackClientError: a reply that is not Slack's JSON; ValueError: a garbled one.
            reason = short_reason(exc)
        delay = max(next_delay(), wait)
        log.warning("Slack %s failed (%s); retrying in %.1fs", method, reason, delay)
        await asyncio.sleep(delay)


def _retry_after(headers: dict[str, str]) -> float:
    """Seconds a rate-limited (HTTP 429) answer asks the caller to wait, from Retry-After
    (https://docs.slack.dev/apis/web-api/rate-limits); 0 when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "")
    try:
        return min(max(float(value), 0.0), MAX_DELAY * 10)
    except ValueError:
        return 0.0
