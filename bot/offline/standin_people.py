"""Who is who in the stand-in's workspace: users.info and users.lookupByEmail (issue 21).

`PeopleStandIn` holds each person's profile (address, name, deactivated, bot) and answers the
two methods as Slack's reference describes them:

- users.info (docs.slack.dev/reference/methods/users.info; api.slack.com/methods/users.info):
  `{"ok": true, "user": {...}}`, a user object with `deleted`, `is_bot` and a `profile`; bot
  scope users:read. "The users:read.email OAuth scope is now required to access the email
  field in user objects returned by the users.list and users.info web API methods": without it
  the answer is ok and `profile.email` is absent. Errors: user_not_found ("Value passed for
  user was invalid"), user_not_visible, missing_scope with `needed` and `provided`.
- users.lookupByEmail (docs.slack.dev/reference/methods/users.lookupByEmail): the same user
  object for "a user in the workspace" with that registered address; bot scope
  users:read.email, else missing_scope; users_not_found when none. api.slack.com's page:
  "If the user has been deactivated, users_not_found will be returned instead of a user
  object" (`lookup_finds_deleted` plays the other answer). The reference says nothing of
  case: `lookup_ignores_case` plays both.

A user the workspace knows only by ID (one the sender acted as) has a profile without an
address, as Slack shows an external (Slack Connect) user whose address is hidden.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

# Slackbot's user ID; Slack's user objects give it `is_bot: false` (it is no app's bot user).
SLACKBOT_ID = "USLACKBOT"


@dataclass(frozen=True, slots=True)
class Person:
    email: str | None
    name: str
    deleted: bool = False  # deactivated: users.info still answers, with `deleted: true`
    is_bot: bool = False


class PeopleStandIn:
    """The workspace's people, and users.info / users.lookupByEmail answered from them."""

    def __init__(self, team_id: str, *, bot_user: str) -> None:
        self.team_id = team_id
        # The app's own bot user is a user too: no address, `is_bot`.
        self.by_id: dict[str, Person] = {bot_user: Person(None, "chimebot", is_bot=True)}
        # The reference is silent on case: True matches the address whatever its case (what
        # apps report of Slack), False only exactly as registered.
        self.lookup_ignores_case = True
        # api.slack.com's reference: a deactivated user's address gets users_not_found (False);
        # True returns the user with `deleted: true`, for a bot that must refuse it either way.
        self.lookup_finds_deleted = False

    def answer(
        self, method: str, args: dict[str, Any], scopes: Collection[str] | None, known: set[str]
    ) -> dict[str, Any]:
        """users.info or users.lookupByEmail; `scopes` None: the token may do anything;
        `known`: user IDs the workspace has besides `by_id` (with no address shown)."""
        if method == "users.info":
            return self._info(str(args.get("user", "")), scopes, known)
        return self._lookup(str(args.get("email", "")), scopes)

    def _info(self, user: str, scopes: Collection[str] | None, known: set[str]) -> dict[str, Any]:
        refused = _missing("users:read", scopes)
        if refused is not None:
            return refused
        if user not in self.by_id and user not in known:
            return {"ok": False, "error": "user_not_found"}
        show_email = scopes is None or "users:read.email" in scopes
        return {"ok": True, "user": self._user(user, show_email=show_email)}

    def _lookup(self, email: str, scopes: Collection[str] | None) -> dict[str, Any]:
        refused = _missing("users:read.email", scopes)
        if refused is not None:
            return refused
        for user, person in self.by_id.items():
            if person.email is None or not email:
                continue
            same = (
                person.email.casefold() == email.casefold()
                if self.lookup_ignores_case
                else person.email == email
            )
            if same and (self.lookup_finds_deleted or not person.deleted):
                return {"ok": True, "user": self._user(user, show_email=True)}
        return {"ok": False, "error": "users_not_found"}

    def deactivate(self, user: str, scopes: Collection[str] | None) -> dict[str, Any]:
        """Deactivate `user`, and return the `user_change` event Slack sends for it
        (docs.slack.dev/reference/events/user_change: `type`, the whole user object in `user`,
        `cache_ts`, `event_ts`), the user object saying `deleted: true`. The profile's email is
        in it only with users:read.email, as in users.info's answer."""
        self.by_id[user] = replace(self.by_id.get(user, Person(None, user.lower())), deleted=True)
        show_email = scopes is None or "users:read.email" in scopes
        now = int(time.time())
        return {
            "type": "user_change",
            "user": self._user(user, show_email=show_email),
            "cache_ts": now,
            "event_ts": f"{now}.000300",
        }

    def _user(self, user: str, *, show_email: bool) -> dict[str, Any]:
        """The user object of the reference's example, with the fields the bot may read."""
        person = self.by_id.get(user, Person(None, user.lower()))
        handle = person.name.split(" ")[0].lower() if person.name else user.lower()
        profile: dict[str, Any] = {
            "real_name": person.name,
            "display_name": handle,
            "real_name_normalized": person.name,
            "display_name_normalized": handle,
            # "Only the image_* fields are guaranteed to be included."
            "image_24": f"https://standin.slack.test/avatar/{user}_24.png",
            "image_48": f"https://standin.slack.test/avatar/{user}_48.png",
            "team": self.team_id,
        }
        if show_email and person.email is not None:
            profile["email"] = person.email
        return {
            "id": user,
            "team_id": self.team_id,
            "name": handle,
            "deleted": person.deleted,
            "real_name": person.name,
            "tz": "Europe/London",
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": person.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }


def _missing(needed: str, scopes: Collection[str] | None) -> dict[str, Any] | None:
    if scopes is None or needed in scopes:
        return None
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(scopes)}
