"""Who is who in Slack (issue 21): a user's email address, and the user with an address.

Asked with two Web API methods:

- users.info (docs.slack.dev/reference/methods/users.info): a user object with `deleted`,
  `is_bot` and `profile`; bot scope users:read; Tier 4. `profile.email` is there only with
  users:read.email ("users:read is no longer a sufficient scope for this data field"): without
  it the answer is ok and the address is simply missing, which only the token's scopes in the
  X-OAuth-Scopes response header tell apart from a person whose address Slack does not show
  (an external user). Errors: user_not_found, user_not_visible, missing_scope, ...
- users.lookupByEmail (docs.slack.dev/reference/methods/users.lookupByEmail): the user
  registered with an address; bot scope users:read.email; Tier 3; users_not_found when there
  is none, and (api.slack.com's page) for a deactivated user too. Older copies of the
  reference name the error user_not_found; both mean no one.

The reference does not say whether the lookup minds the address's case. An address is asked
for as given and, if no one has it and it is not all lowercase, once more in lowercase (how
addresses are usually registered); whoever is found must have that address, compared without
regard to case.

"No such person" (none, deactivated, a bot, Slackbot, no address shown) is None. Whatever keeps
Slack from saying (an error, missing scope, rate limit after the client's retry, no answer in
time, no connection, an answer of the wrong shape) is `PeopleUnknown`, so callers fail closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BotError
from bot.slack.ids import USER_ID

log = logging.getLogger("chime_bot.people")

TIMEOUT = 5.0  # one question, the client's retry after a 429 included
MAX_ERROR_CODE = 60
MAX_EMAIL = 254  # RFC 5321's longest forward path, less the angle brackets
EMAIL_SCOPE = "users:read.email"
# Slackbot: its user object says `is_bot: false`, yet it is no person.
SLACKBOT = "USLACKBOT"
# Errors that say there is no such person, per method.
_NO_ONE = {
    "users.info": frozenset({"user_not_found", "user_not_visible"}),
    "users.lookupByEmail": frozenset({"users_not_found", "user_not_found"}),
}

_WHY = {
    "missing_scope": "the app lacks the {needed} scope",
    "ratelimited": "Slack is limiting how often the bot may ask",
}


class PeopleUnknown(BotError):
    title = "Could not look the person up in Slack"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Slack could not say who that is: {why}. Nothing was done.",
            hint="Try again in a minute; if it persists, an admin should run `chime-bot check`.",
        )
        self.why = why


class People:
    """Slack users and their addresses, through the bot's Web API client."""

    def __init__(self, client: AsyncWebClient, *, timeout: float = TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout

    async def email_of(self, user_id: str) -> str | None:
        """The profile address of `user_id`; None if there is no such active person with one
        Slack shows; PeopleUnknown if Slack cannot say."""
        if not USER_ID.fullmatch(user_id):
            return None
        answer = await self._ask("users.info", {"user": user_id})
        if answer is None:
            return None
        user = _person(answer, user_id)
        if user is None:
            return None
        email = _profile_email(user)
        if email is None:
            scopes = _scopes(answer.headers)
            if scopes is not None and EMAIL_SCOPE not in scopes:
                # The answer left the address out for want of the scope, not for want of one.
                raise PeopleUnknown(_WHY["missing_scope"].format(needed=EMAIL_SCOPE))
        return email

    async def user_by_email(self, email: str) -> str | None:
        """The user ID of the active person registered with `email` (any case); None if there
        is none; PeopleUnknown if Slack cannot say."""
        wanted = email.strip()
        if (
            not wanted
            or len(wanted) > MAX_EMAIL
            or "@" not in wanted
            or any(c.isspace() for c in wanted)
        ):
            return None
        for asked in dict.fromkeys((wanted, wanted.lower())):
            answer = await self._ask("users.lookupByEmail", {"email": asked})
            if answer is None:
                continue
            user = _person(answer, None)
            if user is None:
                return None
            found = _profile_email(user)
            if found is not None and found.casefold() != wanted.casefold():
                raise PeopleUnknown("Slack answered with someone of another address")
            return str(user["id"])
        return None

    async def _ask(self, method: str, args: dict[str, str]) -> Any:
        """Slack's answer (an AsyncSlackResponse); None if it says there is no such person."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._client.api_call(method, http_verb="GET", params=args)
        except SlackApiError as exc:
            data: Any = getattr(exc.response, "data", None)
            code = _error_code(exc, data)
            if code in _NO_ONE[method]:
                return None
            needed = data.get("needed") if isinstance(data, dict) else None
            why = _WHY.get(code, "Slack answered {code}")
            raise PeopleUnknown(
                why.format(needed=str(needed or "")[:MAX_ERROR_CODE] or "needed", code=code)
            ) from None
        except TimeoutError:
            raise PeopleUnknown(f"Slack did not answer within {self._timeout:g} s") from None
        except Exception as exc:
            # aiohttp's connection errors, or slack_sdk on a body that is not JSON (a proxy's).
            log.warning("%s failed: %s", method, type(exc).__name__)
            raise PeopleUnknown("Slack could not be reached or gave no usable answer") from None


def _person(answer: Any, user_id: str | None) -> dict[str, Any] | None:
    """The answer's user object if it is an active human's; None if a deactivated user, a bot
    or Slackbot; PeopleUnknown if the answer holds no user object (of `user_id`, if given)."""
    user = answer.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise PeopleUnknown("Slack's answer held no user")
    if not USER_ID.fullmatch(user["id"]) or (user_id is not None and user["id"] != user_id):
        raise PeopleUnknown("Slack's answer held another user")
    # Fields a user object may leave out count as "not so"; any truthy value as so.
    if user.get("deleted") or user.get("is_bot") or user["id"] == SLACKBOT:
        return None
    return user


def _profile_email(user: dict[str, Any]) -> str | None:
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    return email if isinstance(email, str) and email.strip() else None


def _scopes(headers: Any) -> frozenset[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes response header; None if absent."""
    found = {str(k).lower(): v for k, v in dict(headers or {}).items()}.get("x-oauth-scopes")
    if found is None:
        return None
    text = found[0] if isinstance(found, list) else str(found)
    return frozenset(s.strip() for s in text.split(",") if s.strip())


def _error_code(exc: SlackApiError, data: Any) -> str:
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code:
        return code[:MAX_ERROR_CODE]
    return f"HTTP {getattr(exc.response, 'status_code', '?')}"
