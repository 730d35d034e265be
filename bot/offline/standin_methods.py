"""The Slack workspace the stand-in plays, and how each Web API method answers from it.

`SlackWorkspace` holds what Slack would know: the messages the bot posted and updated
(chat.postMessage, chat.update, chat.postEphemeral), channels and their members
(conversations.info, conversations.members), direct
messages (conversations.open), user groups and their members (usergroups.users.list), people
and their addresses (users.info, users.lookupByEmail: bot/offline/standin_people.py), the token's
scopes, every user's Home tab (views.publish, bot/offline/standin_home.py) and open modals
(views.open, views.update, bot/offline/standin_views.py). `answer` turns one method call into
Slack's JSON answer; the HTTP door in front of it (tokens, outages, faults, recording) is
bot/offline/standin_server.py.

One module because `answer` is Slack's one table from method to workspace state; the larger
families of methods (modals, Home tabs, people) already live in modules of their own.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.offline.blockkit import block_problems
from bot.offline.standin_home import HomeTabs
from bot.offline.standin_people import PeopleStandIn
from bot.offline.standin_views import ViewsStandIn

TEAM_ID = "T0CHIMEBOT"
BOT_USER_ID = "U0CHIMEBOT"
# The bot scopes manifest.yml asks for; Slack lists a token's scopes in the X-OAuth-Scopes header
# of every Web API response (docs.slack.dev, "Scopes": checking a token's scopes).
MANIFEST_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "channels:read",
    "groups:read",
    "usergroups:read",
    "users:read",
    "users:read.email",
)


@dataclass
class PostedMessage:
    channel: str
    ts: str
    message: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    ephemeral_to: str | None = None
    at: float = 0.0  # when it was posted, by the workspace's clock

    @property
    def current(self) -> dict[str, Any]:
        return self.updates[-1] if self.updates else self.message


class SlackWorkspace:
    """What the stand-in's Slack knows, and the answer of each Web API method the bot uses."""

    def __init__(self) -> None:
        self.messages: list[PostedMessage] = []
        # Channels where chat.postMessage fails as if the bot were not a member.
        self.refuse_posts_to: set[str] = set()
        # Users whose DMs cannot be opened (conversations.open fails), e.g. external users.
        self.refuse_dms_with: set[str] = set()
        # conversations.info facts per channel ID (name, is_private, is_member, is_archived);
        # an undeclared channel is a public one the bot is in, as every channel tests post to.
        self.channels: dict[str, dict[str, Any]] = {}
        # Slack documents channel_not_found for a private channel the bot is not in (it cannot
        # see it); set False to answer with is_member: false instead, the other plausible case.
        self.hide_private_nonmember = True
        # Who is in each channel, for conversations.members. An undeclared channel holds every
        # user of the workspace: each user the sender has acted as (and the bot), as every
        # channel tests file from does.
        self.channel_members: dict[str, list[str]] = {}
        self.users: set[str] = {BOT_USER_ID}
        # People and their addresses, for users.info and users.lookupByEmail.
        self.people = PeopleStandIn(TEAM_ID, bot_user=BOT_USER_ID)
        # User groups (S...) and their members, for usergroups.users.list; disabled groups too.
        self.usergroups: dict[str, list[str]] = {}
        self.disabled_usergroups: set[str] = set()
        # The reference does not say how usergroups.users.list answers for a disabled group
        # without include_disabled: an empty list (False) or no_such_subteam (True).
        self.disabled_as_missing = False
        # Enterprise Grid. Set, the stand-in plays an org-wide install of this organization
        # (E...): auth.test says so, and usergroups.users.list wants the group's team_id.
        self.enterprise_id: str | None = None
        # auth.test's team_id for an org-wide token. Its reference shows no org-wide answer:
        # True, the organization's own E... ID (what apps have met in the field); False, the
        # workspace TEAM_ID beside `enterprise_id` and `is_enterprise_install`.
        self.org_team_is_enterprise = True
        # Where each user group exists, for an org-wide token: a workspace T... or the
        # organization E... (org-level groups); a group not listed here is TEAM_ID's.
        self.usergroup_teams: dict[str, str] = {}
        # The token's scopes, sent as X-OAuth-Scopes; None: the header is left out.
        self.scopes: tuple[str, ...] | None = MANIFEST_SCOPES
        # Every user's App Home tab, for views.publish (bot/offline/standin_home.py).
        self.home = HomeTabs(TEAM_ID)
        # Modals: views.open and views.update, and the trigger_ids the sender hands out.
        self.views = ViewsStandIn(TEAM_ID)
        self._ts = itertools.count(1)
        # When things happen, for rates (a test may set the bot's virtual clock: `use_clock`).
        self.clock: Callable[[], float] = time.monotonic

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Stamp posts and publishes by `clock` (a test's virtual one) from now on."""
        self.clock = clock
        self.home.clock = clock

    def message_at(self, channel: str, ts: str) -> PostedMessage | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def next_ts(self) -> str:
        """A message timestamp as Slack makes them: seconds, then a per-workspace sequence."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Slack's answer to `method` called with `args`, by a caller the door let through."""
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = refused_blocks(args)
            if refused is not None:
                return refused
        if method == "auth.test":
            return self._auth_test()
        if method == "chat.postMessage":
            channel = str(args.get("channel", ""))
            if channel in self.refuse_posts_to:
                return {"ok": False, "error": "not_in_channel"}
            ts = self.next_ts()
            self.messages.append(PostedMessage(channel, ts, bot_message(args, ts), at=self.clock()))
            return {"ok": True, "channel": channel, "ts": ts, "message": bot_message(args, ts)}
        if method == "chat.update":
            found = self.message_at(str(args.get("channel", "")), str(args.get("ts", "")))
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found.updates.append(bot_message(args, found.ts))
            return {"ok": True, "channel": found.channel, "ts": found.ts}
        if method == "chat.postEphemeral":
            channel = str(args.get("channel", ""))
            ts = self.next_ts()
            self.messages.append(
                PostedMessage(
                    channel, ts, bot_message(args, ts), ephemeral_to=str(args.get("user", ""))
                )
            )
            return {"ok": True, "message_ts": ts}
        if method in ("views.open", "views.update"):
            return self.views.answer(method, args)
        if method == "conversations.info":
            return self._conversation_info(str(args.get("channel", "")))
        if method == "conversations.members":
            return self._conversation_members(args)
        if method == "usergroups.users.list":
            return self._usergroup_users(args)
        if method in ("users.info", "users.lookupByEmail"):
            return self.people.answer(method, args, self.scopes, self.users)
        if method == "views.publish":
            return self.home.publish(args)
        if method == "conversations.open":
            users = str(args.get("users", ""))
            if users in self.refuse_dms_with:
                return {"ok": False, "error": "cannot_dm_bot"}
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("UW")}}
        return {"ok": False, "error": "unknown_method"}

    def _auth_test(self) -> dict[str, Any]:
        """auth.test (docs.slack.dev/reference/methods/auth.test): the bot token's identity.
        On Enterprise Grid, "you'll also find their enterprise_id here"; Slack's OpenAPI spec of
        the method also lists `is_enterprise_install`, true for an org-wide install's token."""
        answer: dict[str, Any] = {
            "ok": True,
            "url": "https://standin.slack.test/",
            "team": "Stand-in",
            "user": "chimebot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "B0CHIMEBOT",
        }
        if self.enterprise_id is not None:
            answer["enterprise_id"] = self.enterprise_id
            answer["is_enterprise_install"] = True
            if self.org_team_is_enterprise:
                answer["team_id"] = self.enterprise_id
        return answer

    def _conversation_info(self, channel: str) -> dict[str, Any]:
        """conversations.info (docs.slack.dev/reference/methods/conversations.info): a
        conversation object, or channel_not_found; channels:read is needed for public channels
        and groups:read for private ones, else missing_scope with `needed` and `provided`."""
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        facts = {"name": channel.lower(), "is_private": False, "is_member": True}
        facts.update(self.channels.get(channel, {}))
        private = bool(facts["is_private"])
        needed = "groups:read" if private else "channels:read"
        if self.scopes is not None and needed not in self.scopes:
            provided = ",".join(self.scopes)
            return {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
        if private and not facts["is_member"] and self.hide_private_nonmember:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "is_channel": not private,
                "is_group": private,
                "is_im": False,
                "is_mpim": False,
                "is_archived": False,
                "is_general": False,
                **facts,
            },
        }

    def _conversation_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.members (docs.slack.dev/reference/methods/conversations.members): the
        members' user IDs in `members`, a page of at most `limit` (default 100, under 1000,
        else invalid_limit) and the next page's `response_metadata.next_cursor` ("" on the last;
        a cursor that is not one of ours is invalid_cursor); channels:read or groups:read as for
        conversations.info, and channel_not_found for a channel it cannot see, a private one the
        bot is not in included (as conversations.info answers here). The cursor's form is
        opaque in the reference; here it is the next index, base64-free."""
        channel = str(args.get("channel", ""))
        info = self._conversation_info(channel)
        if not info["ok"]:
            return info
        if not info["channel"]["is_member"] and info["channel"]["is_private"]:
            return {"ok": False, "error": "channel_not_found"}
        try:
            limit = int(args.get("limit", 100))
        except ValueError:
            return {"ok": False, "error": "invalid_limit"}
        if not 0 < limit < 1000:
            return {"ok": False, "error": "invalid_limit"}
        cursor = str(args.get("cursor", "") or "")
        if cursor and not (cursor.startswith("next:") and cursor[5:].isdigit()):
            return {"ok": False, "error": "invalid_cursor"}
        start = int(cursor[5:]) if cursor else 0
        members = self.channel_members.get(channel, sorted(self.users))
        page = members[start : start + limit]
        after = start + limit
        next_cursor = f"next:{after}" if after < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        """usergroups.users.list (docs.slack.dev/reference/methods/usergroups.users.list):
        `{"ok": true, "users": [user IDs]}` for the group in `usergroup`; no_such_subteam for
        an unknown one; the bot scope usergroups:read, else missing_scope. `include_disabled`
        "allows results that involve disabled User Groups"; without it a disabled group is
        answered as `disabled_as_missing` says (the reference is silent). The reference names
        no error for a missing `usergroup`; no_such_subteam stands in for it here.

        `team_id` is the "encoded team id where the user group exists, required if org token
        is used"; "ignored if the API call is sent using a workspace-level token" (the method's
        reference, and api.slack.com/enterprise/apps/changes-apis). With an org-wide token
        (`enterprise_id` set) a call without it gets missing_argument, which the reference does
        not list but apps have met for this (lyft/omnibot#44, sgratzl/slack-cleaner#101), and a
        team the group is not in gets no_such_subteam (the reference is silent: the group is
        not found where it was asked for)."""
        if self.scopes is not None and "usergroups:read" not in self.scopes:
            provided = ",".join(self.scopes)
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "usergroups:read",
                "provided": provided,
            }
        group = str(args.get("usergroup", ""))
        if self.enterprise_id is not None:
            team = str(args.get("team_id", ""))
            if not team:
                return {"ok": False, "error": "missing_argument"}
            if self.usergroup_teams.get(group, TEAM_ID) != team:
                return {"ok": False, "error": "no_such_subteam"}
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        include_disabled = str(args.get("include_disabled", "")).lower() in ("1", "true")
        if group in self.disabled_usergroups and not include_disabled:
            if self.disabled_as_missing:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": []}
        return {"ok": True, "users": list(self.usergroups[group])}

    def change_members(self, group: str, users: list[str]) -> dict[str, Any]:
        """Set a group's members, and return the `subteam_members_changed` event Slack sends
        for it, in its Events API wrapper (docs.slack.dev/reference/events/
        subteam_members_changed: only the delta of added and removed users)."""
        before = set(self.usergroups.get(group, []))
        self.usergroups[group] = list(users)
        added, removed = sorted(set(users) - before), sorted(before - set(users))
        now = int(time.time())
        return events_api_body(
            {
                "type": "subteam_members_changed",
                "subteam_id": group,
                "team_id": TEAM_ID,
                "date_previous_update": now - 60,
                "date_update": now,
                "added_users": added,
                "added_users_count": str(len(added)),
                "removed_users": removed,
                "removed_users_count": str(len(removed)),
                "event_ts": f"{now}.000100",
            }
        )

    def disable_group(self, group: str, *, disabled: bool = True) -> dict[str, Any]:
        """Disable (or enable again) a group, and return the `subteam_updated` event Slack sends
        for it (docs.slack.dev/reference/events/subteam_updated: the whole group in `subteam`;
        the event "may also arise when a subteam has been disabled"). The reference's example
        is of an enabled group, with `date_delete: 0` and `deleted_by: null`; a disabled one is
        taken to carry the time and who disabled it there, as the usergroup object's fields
        are named (docs.slack.dev/reference/objects/usergroup-object). Disabling a group
        changes no member, so no `subteam_members_changed` is sent (the reference names none)."""
        if disabled:
            self.disabled_usergroups.add(group)
        else:
            self.disabled_usergroups.discard(group)
        users = list(self.usergroups.get(group, []))
        now = int(time.time())
        subteam = {
            "id": group,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "is_subteam": True,
            "name": f"Group {group}",
            "description": "",
            "handle": group.lower(),
            "is_external": False,
            "date_create": now - 86_400,
            "date_update": now,
            "date_delete": now if disabled else 0,
            "auto_type": None,
            "auto_provision": False,
            "enterprise_subteam_id": "",
            "created_by": "U0ADMIN",
            "updated_by": "U0ADMIN",
            "deleted_by": "U0ADMIN" if disabled else None,
            "prefs": {"channels": [], "groups": []},
            "users": users[:500],  # "The users field is truncated at 500"
            "user_count": len(users),
            "channel_count": 0,
        }
        return events_api_body(
            {"type": "subteam_updated", "subteam": subteam, "event_ts": f"{now}.000200"}
        )

    def deactivate(self, user: str) -> dict[str, Any]:
        """An admin deactivates `user`: the Events API body of the `user_change` Slack sends
        (bot/offline/standin_people.py), under this token's scopes."""
        return events_api_body(self.people.deactivate(user, self.scopes))


def events_api_body(event: dict[str, Any]) -> dict[str, Any]:
    """`event` in the Events API's outer `event_callback` wrapper (docs.slack.dev/apis/events-api),
    as Slack posts it to the request URL or puts it in a Socket Mode envelope."""
    now = int(time.time())
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0CHIMEBOT",
        "event": event,
        "type": "event_callback",
        "authorizations": [
            {
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": now,
    }


def refused_blocks(args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to blocks it will not take, or None if they are fine (or absent).

    chat.postMessage, chat.update and chat.postEphemeral list `invalid_blocks` (blocks that
    are not valid) and `invalid_blocks_format` (not a JSON array of blocks) among their errors
    (docs.slack.dev/reference/methods/chat.postMessage, .../chat.update, .../chat.postEphemeral),
    and the answer carries the reasons in `errors` (as slackapi/java-slack-sdk#1017 shows one).
    What counts as invalid is bot.offline.blockkit's reading of the Block Kit reference.
    """
    if "blocks" not in args:
        return None
    blocks = args["blocks"]
    if not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks_format"}
    problems = block_problems(blocks)
    if problems:
        return {"ok": False, "error": "invalid_blocks", "errors": problems}
    return None


def bot_message(args: dict[str, Any], ts: str) -> dict[str, Any]:
    """The message as Slack stores and returns it: posted by the bot, at `ts`."""
    message = {
        "type": "message",
        "ts": ts,
        "user": BOT_USER_ID,
        "text": args.get("text", ""),
        "blocks": args.get("blocks", []),
    }
    if args.get("thread_ts"):
        # A reply carries its parent's ts as thread_ts (chat.postMessage's reference: "Provide
        # another message's ts value to make this message a reply"). The reference does not
        # say what happens to a thread_ts naming no message, so the stand-in does not judge it.
        message["thread_ts"] = str(args["thread_ts"])
    return message
