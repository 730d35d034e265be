"""The Slack stand-in's server: the HTTP door the bot calls, recording everything it says.

`SlackStandIn` serves, on 127.0.0.1, the Web API (at `SLACK_API_URL`), every request's
response_url and Socket Mode's WebSocket. The Web API door checks the token and plays Slack's
outages and per-method faults; behind it the workspace answers each method
(bot/offline/standin_methods.py). Each call, response_url post and Socket Mode ack is recorded,
and `wait_for` lets tests and the console wait on what was recorded. Slack's own side, sending to
the bot, is bot/offline/standin_sender.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

from bot.offline.standin_methods import SlackWorkspace, refused_blocks

RESPONSE_URL_LIMIT = 5  # Slack accepts 5 posts per response_url (within 30 minutes)


@dataclass(frozen=True, slots=True)
class MethodFault:
    """How one Web API method misbehaves: Slack's error code (`ratelimited` comes as HTTP 429
    with Retry-After), an HTTP status with a non-JSON body (a proxy in front of Slack), and/or
    a delay before answering (a Slack that does not answer in time)."""

    error: str | None = None
    status: int | None = None
    delay: float = 0.0
    times: int | None = None  # how many calls it spoils, then the method answers again; None: all


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    args: dict[str, Any]


class SlackStandIn(SlackWorkspace):
    """The Slack Web API and response_url endpoints, on 127.0.0.1, recording what the bot says.

    The workspace it plays (messages, channels, user groups, Home tabs, modals) and each
    method's answer are `SlackWorkspace`'s; this adds the door, the record and the server."""

    def __init__(self, *, bot_token: str = "xoxb-standin", app_token: str | None = None) -> None:
        super().__init__()
        self.bot_token = bot_token
        # Set: the only app-level token apps.connections.open accepts (else any xapp- token).
        self.app_token = app_token
        self.calls: list[ApiCall] = []  # calls answered with ok: true or a method's own error
        self.attempts: list[ApiCall] = []  # every call that reached the stand-in, refused or not
        self.responses: dict[str, list[dict[str, Any]]] = {}
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
        # Per-method failures, for one method while the rest of the API works.
        self.method_faults: dict[str, MethodFault] = {}
        # perf_counter() when each response_url first received a post, for latency figures.
        self.arrivals: dict[str, float] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base = ""

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
        await web.TCPSite(self._runner, host, port).start()
        self._base = f"http://{host}:{self._runner.addresses[0][1]}"
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
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(predicate)
            except TimeoutError:
                raise TimeoutError(
                    f"condition not met within {timeout}s; calls={[c.method for c in self.calls]}"
                ) from None

    async def wait_responses(
        self, rid: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.responses.get(rid, [])) >= count, timeout)
        return self.responses[rid]

    # ---- the Web API door and response_url ---------------------------------------------

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
        if fault.times is not None:
            left = fault.times - 1
            if left > 0:
                self.method_faults[method] = replace(fault, times=left)
            else:
                del self.method_faults[method]
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
        if method == "apps.connections.open":
            result = self._connections_open()
        else:
            result = self.answer(method, args)
        await asyncio.sleep(fault.delay)  # the answer, as of the request, arrives late
        await self._record(lambda: self.calls.append(ApiCall(method, args)))
        headers = {} if self.scopes is None else {"X-OAuth-Scopes": ",".join(self.scopes)}
        return web.json_response(result, headers=headers)

    def _connections_open(self) -> dict[str, Any]:
        """apps.connections.open: a WebSocket URL on this server, for Socket Mode."""
        host = self._base.removeprefix("http://")
        return {"ok": True, "url": f"ws://{host}/socket?ticket={secrets.token_hex(8)}"}

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
        if refused_blocks(body) is not None:
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
