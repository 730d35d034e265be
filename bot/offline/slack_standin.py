"""A local stand-in for Slack: both what the bot calls and what calls the bot.

`SlackStandIn` is an aiohttp server that answers the Web API methods the bot uses (at
`SLACK_API_URL`) and receives `response_url` posts, recording all of it. `SlackSender` plays
Slack's side of the conversation: it builds slash-command forms and `block_actions` payloads the
way Slack does, signs them with the v0 scheme and POSTs them to the bot's HTTP endpoint.

The demo, the console, the benchmark and the tests all use these, so the bot is always exercised
through the same door that real Slack uses.

One module because the Web API side and the sender share one recorded conversation (posts,
updates, response_url posts) that tests read; splitting the Web API methods out is the next
step if it grows further.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from bot.offline.blockkit import block_problems
from bot.offline.standin_home import HomeTabs, home_click_payload, home_opened_event
from bot.offline.standin_views import ViewsStandIn, shortcut_payload, submission_payload

TEAM_ID = "T0CHIMEBOT"
BOT_USER_ID = "U0CHIMEBOT"
_JSON_TYPE = "application/json"
RESPONSE_URL_LIMIT = 5  # Slack accepts 5 posts per response_url (within 30 minutes)
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
)


@dataclass(frozen=True, slots=True)
class MethodFault:
    """How one Web API method misbehaves: Slack's error code (`ratelimited` comes as HTTP 429
    with Retry-After), an HTTP status with a non-JSON body (a proxy in front of Slack), and/or
    a delay before answering (a Slack that does not answer in time)."""

    error: str | None = None
    status: int | None = None
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    args: dict[str, Any]


@dataclass
class PostedMessage:
    channel: str
    ts: str
    message: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    ephemeral_to: str | None = None

    @property
    def current(self) -> dict[str, Any]:
        return self.updates[-1] if self.updates else self.message


class SlackStandIn:
    """The Slack Web API and response_url endpoints, on 127.0.0.1, recording what the bot says."""

    def __init__(self, *, bot_token: str = "xoxb-standin", app_token: str | None = None) -> None:
        self.bot_token = bot_token
        # Set: the only app-level token apps.connections.open accepts (else any xapp- token).
        self.app_token = app_token
        self.calls: list[ApiCall] = []  # calls answered with ok: true or a method's own error
        self.attempts: list[ApiCall] = []  # every call that reached the stand-in, refused or not
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.messages: list[PostedMessage] = []
        # Channels where chat.postMessage fails as if the bot were not a member.
        self.refuse_posts_to: set[str] = set()
        # Users whose DMs cannot be opened (conversations.open fails), e.g. external users.
        self.refuse_dms_with: set[str] = set()
        # Set: every Web API call answers {"ok": false, "error": api_error} with HTTP 200, as
        # Slack does for a token it refuses (invalid_auth, token_revoked, account_inactive: a
        # revoked token fails every method, not only auth.test) and for its own transient
        # failures (internal_error, service_unavailable, ratelimited). Slack's reference:
        # https://docs.slack.dev/reference/methods/auth.test and its common errors.
        self.api_error: str | None = None
        # Set: every Web API call answers with this HTTP status and a non-JSON body, like a
        # proxy or load balancer in front of Slack having a bad moment. Slack's docs say
        # nothing about the body of such answers; the bot must treat any as transient.
        self.api_status: int | None = None
        self.retry_after = 1  # seconds, for api_error = "ratelimited"
        # Set: WebSocket handshakes are refused (HTTP 503), as when Slack's Socket Mode servers
        # are down while the Web API answers. Slack's docs do not say how such an outage looks
        # on the wire; a refused handshake is one plausible form, a refused TCP connection the
        # other (a stopped stand-in).
        self.refuse_sockets = False
        self.socket_acks: dict[str, dict[str, Any]] = {}
        # Where response_url posts are redirected to (307), when set. Slack's reference never has
        # response_url redirect; this plays a misbehaving hook, for tests that the bot does not
        # follow redirects there.
        self.redirect_responses_to: str | None = None
        # conversations.info facts per channel ID (name, is_private, is_member, is_archived);
        # an undeclared channel is a public one the bot is in, as every channel tests post to.
        self.channels: dict[str, dict[str, Any]] = {}
        # Slack documents channel_not_found for a private channel the bot is not in (it cannot
        # see it); set False to answer with is_member: false instead, the other plausible case.
        self.hide_private_nonmember = True
        # User groups (S...) and their members, for usergroups.users.list; disabled groups too.
        self.usergroups: dict[str, list[str]] = {}
        self.disabled_usergroups: set[str] = set()
        # The reference does not say how usergroups.users.list answers for a disabled group
        # without include_disabled: an empty list (False) or no_such_subteam (True).
        self.disabled_as_missing = False
        # Per-method failures, for one method while the rest of the API works.
        self.method_faults: dict[str, MethodFault] = {}
        # The token's scopes, sent as X-OAuth-Scopes; None: the header is left out.
        self.scopes: tuple[str, ...] | None = MANIFEST_SCOPES
        # perf_counter() when each response_url first received a post, for latency figures.
        self.arrivals: dict[str, float] = {}
        # Every user's App Home tab, for views.publish (bot/offline/standin_home.py).
        self.home = HomeTabs(TEAM_ID)
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._ts = itertools.count(1)
        # Modals: views.open and views.update, and the trigger_ids the sender hands out.
        self.views = ViewsStandIn(TEAM_ID)

    # ---- lifecycle -------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        # Web API methods take GET or POST alike (slackhq/slack-api-docs, index_web.md);
        # slack_sdk calls conversations.info with GET.
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/socket", self._socket)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self._base = f"http://{host}:{sockets[0].getsockname()[1]}"
        return self.api_url

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def is_running(self) -> bool:
        return self._runner is not None

    @property
    def api_url(self) -> str:
        return f"{self._base}/api/"

    def new_response_url(self) -> tuple[str, str]:
        rid = secrets.token_hex(8)
        self.responses[rid] = []
        return rid, f"{self._base}/response/{rid}"

    # ---- what tests and tools read ---------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds; raise TimeoutError naming what was seen otherwise."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"condition not met within {timeout}s; calls={[c.method for c in self.calls]}"
                ) from None

    async def wait_responses(
        self, rid: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.responses.get(rid, [])) >= count, timeout)
        return self.responses[rid]

    def message_at(self, channel: str, ts: str) -> PostedMessage | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    # ---- handlers --------------------------------------------------------------------------

    async def _record(self, fn: Callable[[], object]) -> None:
        async with self._changed:
            fn()
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(args.get("token", ""))
        app_token_call = method == "apps.connections.open" and token.startswith("xapp-")
        if app_token_call and self.app_token is not None and token != self.app_token:
            app_token_call = False  # refused below, like any token Slack does not know
        await self._record(lambda: self.attempts.append(ApiCall(method, args)))
        if self.api_status is not None:
            return web.Response(status=self.api_status, text="upstream unavailable")
        if not token:
            # auth.test's reference: "Error response when omitting a token": not_authed.
            return web.json_response({"ok": False, "error": "not_authed"})
        if self.api_error == "ratelimited":
            # Rate limits: HTTP 429 with Retry-After in seconds, and the error in the body
            # (https://docs.slack.dev/apis/web-api/rate-limits).
            headers = {"Retry-After": str(self.retry_after)}
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers=headers)
        if self.api_error is not None:
            return web.json_response({"ok": False, "error": self.api_error})
        if token != self.bot_token and not app_token_call:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        fault = self.method_faults.get(method, MethodFault())
        if fault.status is not None or fault.error is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return web.Response(status=fault.status, text="upstream unavailable")
            if fault.error == "ratelimited":
                headers = {"Retry-After": str(self.retry_after)}
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers=headers
                )
            return web.json_response({"ok": False, "error": fault.error})
        result = self._answer(method, args)
        await asyncio.sleep(fault.delay)  # the answer, as of the request, arrives late
        await self._record(lambda: self.calls.append(ApiCall(method, args)))
        headers = {} if self.scopes is None else {"X-OAuth-Scopes": ",".join(self.scopes)}
        return web.json_response(result, headers=headers)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            refused = _refused_blocks(args)
            if refused is not None:
                return refused
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://standin.slack.test/",
                "team": "Stand-in",
                "user": "chimebot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "B0CHIMEBOT",
            }
        if method == "chat.postMessage":
            channel = str(args.get("channel", ""))
            if channel in self.refuse_posts_to:
                return {"ok": False, "error": "not_in_channel"}
            ts = self._next_ts()
            self.messages.append(PostedMessage(channel, ts, _message(args, ts)))
            return {"ok": True, "channel": channel, "ts": ts, "message": _message(args, ts)}
        if method == "chat.update":
            found = self.message_at(str(args.get("channel", "")), str(args.get("ts", "")))
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found.updates.append(_message(args, found.ts))
            return {"ok": True, "channel": found.channel, "ts": found.ts}
        if method == "chat.postEphemeral":
            channel = str(args.get("channel", ""))
            ts = self._next_ts()
            self.messages.append(
                PostedMessage(
                    channel, ts, _message(args, ts), ephemeral_to=str(args.get("user", ""))
                )
            )
            return {"ok": True, "message_ts": ts}
        if method == "apps.connections.open":
            host = self._base.removeprefix("http://")
            return {"ok": True, "url": f"ws://{host}/socket?ticket={secrets.token_hex(8)}"}
        if method in ("views.open", "views.update"):
            return self.views.answer(method, args)
        if method == "conversations.info":
            return self._conversation_info(str(args.get("channel", "")))
        if method == "usergroups.users.list":
            return self._usergroup_users(args)
        if method == "views.publish":
            return self.home.publish(args)
        if method == "conversations.open":
            users = str(args.get("users", ""))
            if users in self.refuse_dms_with:
                return {"ok": False, "error": "cannot_dm_bot"}
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("UW")}}
        return {"ok": False, "error": "unknown_method"}

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

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        """usergroups.users.list (docs.slack.dev/reference/methods/usergroups.users.list):
        `{"ok": true, "users": [user IDs]}` for the group in `usergroup`; no_such_subteam for
        an unknown one; the bot scope usergroups:read, else missing_scope. `include_disabled`
        "allows results that involve disabled User Groups"; without it a disabled group is
        answered as `disabled_as_missing` says (the reference is silent). The reference names
        no error for a missing `usergroup`; no_such_subteam stands in for it here."""
        if self.scopes is not None and "usergroups:read" not in self.scopes:
            provided = ",".join(self.scopes)
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "usergroups:read",
                "provided": provided,
            }
        group = str(args.get("usergroup", ""))
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
        return {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0CHIMEBOT",
            "event": {
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
            },
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

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        if self.redirect_responses_to is not None:
            raise web.HTTPTemporaryRedirect(self.redirect_responses_to)
        posts = self.responses.get(rid)
        if posts is None:
            return web.Response(status=404, text="no_such_url")
        if len(posts) >= RESPONSE_URL_LIMIT:
            return web.Response(status=404, text="used_url")
        body = await request.json()
        if _refused_blocks(body) is not None:
            # Slack's reference does not say what a response_url answers to invalid blocks; as
            # reported (slackapi/java-slack-sdk#1017) it is HTTP 400 with the bare error code
            # and none of the Web API's detail. The bot counts any non-200 as not delivered.
            return web.Response(status=400, text="invalid_blocks")
        arrived = time.perf_counter()

        def record() -> None:
            posts.append(body)
            self.arrivals.setdefault(rid, arrived)

        await self._record(record)
        return web.Response(text="ok")

    # ---- Socket Mode -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_sockets:
            return web.Response(status=503, text="unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._record(lambda: self._sockets.append(ws))
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0CHIMEBOT"},
                "debug_info": {"host": "standin"},
            }
        )
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            data: dict[str, Any] = json.loads(frame.data)
            if "envelope_id" in data:
                await self._record(partial(self.socket_acks.update, {data["envelope_id"]: data}))
        await self._record(lambda: self._sockets.remove(ws))
        return ws

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection from Slack's side (the bot should reconnect)."""
        for ws in list(self._sockets):
            await ws.close()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: bool(self._sockets), timeout)

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an event over the bot's Socket Mode connection; returns its envelope_id."""
        envelope_id = secrets.token_hex(12)
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        await self.wait_for(lambda: envelope_id in self.socket_acks, timeout)
        return self.socket_acks[envelope_id]

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"


async def _read_args(request: web.Request) -> dict[str, Any]:
    # slack_sdk sends some methods' arguments in the query string (conversations.open), some as
    # a form, some as JSON: read all three, like Slack does.
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        data = await request.json()
        return {**args, **data} if isinstance(data, dict) else args
    form = await request.post()
    for key, value in form.items():
        text = str(value)
        # slack_sdk form-encodes `blocks` as a JSON string.
        if key in ("blocks", "attachments") and text:
            try:
                args[key] = json.loads(text)
            except ValueError:
                args[key] = text  # not JSON: refused as invalid_blocks_format
        else:
            args[key] = text
    return args


def _refused_blocks(args: dict[str, Any]) -> dict[str, Any] | None:
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


def _message(args: dict[str, Any], ts: str) -> dict[str, Any]:
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


# ---- Slack's side: signed requests to the bot ------------------------------------------------


@dataclass
class Exchange:
    """One request to the bot: the HTTP ack and whatever arrives at its response_url after."""

    status: int
    ack: dict[str, Any] | None
    ack_seconds: float
    response_id: str
    standin: SlackStandIn

    async def replies(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The ack body (if it had content) followed by response_url posts, `count` in all."""
        first = [self.ack] if self.ack else []
        if len(first) < count:
            await self.standin.wait_responses(self.response_id, count - len(first), timeout)
        return first + self.standin.responses[self.response_id]

    async def reply(self, timeout: float = 10.0) -> dict[str, Any]:
        return (await self.replies(1, timeout))[0]


class SlackSender:
    def __init__(
        self, bot_url: str, signing_secret: str, standin: SlackStandIn, session: ClientSession
    ) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.session = session

    async def command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/chime",
        retry_num: int | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Exchange:
        rid, form = self._slash_form(text, user_id, channel_id, command)
        return await self._post(urlencode(form), rid, retry_num, timestamp, secret)

    async def socket_command(
        self, text: str, *, user_id: str, channel_id: str, command: str = "/chime"
    ) -> Exchange:
        """The same slash command, delivered over Socket Mode instead of HTTP."""
        rid, form = self._slash_form(text, user_id, channel_id, command)
        started = time.perf_counter()
        envelope_id = await self.standin.send_envelope("slash_commands", form)
        ack = await self.standin.wait_ack(envelope_id)
        elapsed = time.perf_counter() - started
        return Exchange(200, ack.get("payload") or None, elapsed, rid, self.standin)

    def _slash_form(
        self, text: str, user_id: str, channel_id: str, command: str
    ) -> tuple[str, dict[str, str]]:
        rid, response_url = self.standin.new_response_url()
        return rid, {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "standin",
            "channel_id": channel_id,
            "channel_name": channel_id.lower(),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0CHIMEBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.standin.views.issue_trigger(user_id),
        }

    async def click(
        self,
        message: dict[str, Any],
        label: str,
        *,
        user_id: str,
        channel_id: str,
        retry_num: int | None = None,
        alter: Callable[[dict[str, Any]], None] | None = None,
    ) -> Exchange:
        """Press the button labelled `label` on a message the bot posted, as Slack would.

        `alter` edits the payload before it is signed: a forged click, for tests."""
        block_id, button = find_button(message, label)
        rid, response_url = self.standin.new_response_url()
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0CHIMEBOT",
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.get("ts", ""),
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": self.standin.views.issue_trigger(user_id),
            "team": {"id": TEAM_ID, "domain": "standin"},
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "message": message,
            "response_url": response_url,
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": block_id,
                    "text": button["text"],
                    "value": button.get("value", ""),
                    "style": button.get("style"),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if alter is not None:
            alter(payload)
        body = urlencode({"payload": json.dumps(payload)})
        return await self._post(body, rid, retry_num, None, None)

    async def click_home(
        self,
        label: str,
        *,
        user_id: str,
        value: str | None = None,
        view: dict[str, Any] | None = None,
        alter: Callable[[dict[str, Any]], None] | None = None,
    ) -> Exchange:
        """Press a button in the Home tab Slack holds for `user_id` (or in `view`, someone
        else's: a forged click), as Slack sends it: no response_url, channel or message."""
        shown = view if view is not None else self.standin.home.views[user_id]
        payload = home_click_payload(shown, label, user_id=user_id, value=value)
        if alter is not None:
            alter(payload)
        rid, _ = self.standin.new_response_url()  # nothing arrives there: kept for shape
        return await self._post(urlencode({"payload": json.dumps(payload)}), rid, None, None, None)

    async def open_home(self, user_id: str) -> Exchange:
        """`user_id` opens the app's Home tab: Slack's `app_home_opened` event."""
        view = self.standin.home.views.get(user_id)
        return await self.event(home_opened_event(TEAM_ID, user_id, view))

    async def shortcut(self, callback_id: str, *, user_id: str) -> Exchange:
        """Use the global shortcut `callback_id`, as Slack would (a payload with a trigger_id)."""
        trigger = self.standin.views.issue_trigger(user_id)
        payload = shortcut_payload(callback_id, user_id, TEAM_ID, trigger)
        return await self._payload(payload)

    async def submit(
        self,
        view_id: str,
        fields: Mapping[str, str],
        *,
        user_id: str,
        alter: Callable[[dict[str, Any]], None] | None = None,
    ) -> Exchange:
        """Press Submit on the modal `view_id` as it is shown now, with `fields` (by block_id)
        filled in. `alter` edits the payload before it is signed: a forged submission."""
        opened = self.standin.views.views[view_id]
        trigger = self.standin.views.issue_trigger(user_id)
        payload = submission_payload(opened, fields, user_id, TEAM_ID, trigger)
        if alter is not None:
            alter(payload)
        return await self._payload(payload)

    async def _payload(self, payload: dict[str, Any]) -> Exchange:
        rid, _ = self.standin.new_response_url()  # no response_url in these; kept for shape
        return await self._post(urlencode({"payload": json.dumps(payload)}), rid, None, None, None)

    async def event(self, body: dict[str, Any], *, secret: str | None = None) -> Exchange:
        """POST an Events API body as Slack does: JSON, signed like everything else."""
        rid, _ = self.standin.new_response_url()  # events have no response_url; kept for shape
        return await self._post(json.dumps(body), rid, None, None, secret, _JSON_TYPE)

    async def socket_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """The same Events API body over Socket Mode (envelope type `events_api`); the ack."""
        envelope_id = await self.standin.send_envelope("events_api", body)
        return await self.standin.wait_ack(envelope_id)

    def sign(self, body: str, timestamp: int, secret: str | None = None) -> str:
        verifier = SignatureVerifier(secret or self.signing_secret)
        signature = verifier.generate_signature(timestamp=str(timestamp), body=body)
        assert signature is not None  # None only for a None timestamp, and str() never is
        return signature

    async def _post(
        self,
        body: str,
        rid: str,
        retry_num: int | None,
        timestamp: int | None,
        secret: str | None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Exchange:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": self.sign(body, ts, secret),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        started = time.perf_counter()
        async with self.session.post(self.bot_url, data=body.encode(), headers=headers) as resp:
            raw = await resp.read()
            elapsed = time.perf_counter() - started
            ack = json.loads(raw) if raw and resp.content_type == "application/json" else None
            return Exchange(resp.status, ack, elapsed, rid, self.standin)


def find_button(message: dict[str, Any], label: str) -> tuple[str, dict[str, Any]]:
    """The (block_id, element) of the button whose visible label is `label`."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return block.get("block_id", ""), element
    raise LookupError(f"no button labelled {label!r} on this message")


def buttons(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (block_id, button) on a message, in display order."""
    found = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    found.append((block.get("block_id", ""), element))
    return found
