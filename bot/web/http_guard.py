"""The door of `/slack/events`: read, verify and check a request before Bolt sees any of it.

Slack signs every request with the v0 scheme: HMAC-SHA256 of `v0:{timestamp}:{raw body}` under
the signing secret, in `X-Slack-Signature`, with the timestamp in `X-Slack-Request-Timestamp`
(https://docs.slack.dev/authentication/verifying-requests-from-slack/). Verifying here, over the
raw bytes and before anything is decoded, means:

- A stranger's request costs one HMAC, gets a 401 and leaves one short INFO line that holds no
  request data. Bolt's own check logs the whole body of a failed request at INFO
  (`RequestVerification._debug_log_error` in slack_bolt/middleware/request_verification), so it
  is switched off in `bot.app.build_bolt_app`: this is the one verifier for HTTP. (Raising the
  level of Bolt's logger instead would leave the 500s below, and one more place to verify.)
- Nothing that could raise (decoding, charsets, JSON, payload shapes) runs before the signature
  has been checked, and what could raise afterwards answers 400 with a short reason, never a 500.
- Only a request read in full and verified counts for the acks-first gate, so a slow or
  half-open connection cannot hold anyone's card back.

One module because it is one door: reading, verifying and the shape of each kind of body Slack
sends share its one answer (`Answered`), in the order they run; the form's payloads, which
answer in words of their own, are in bot/web/guard_views.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.ids import ANY_ID, USER_ID
from bot.web.grid_scope import event_scope
from bot.web.guard_views import REBUILT, Refused, rebuilt

log = logging.getLogger("chime_bot.http")

# Slack's payloads are far smaller: a block_actions payload carries its message (at most 50
# blocks), a slash command a few hundred bytes. The same cap is aiohttp's `client_max_size`.
MAX_BODY = 1024 * 1024
# Slack gives up on an ack after 3 s, so a body still arriving after that is of no use to anyone.
BODY_TIMEOUT = 3.0
# After a refusal, what is left of an unread body is drained for this long before the connection
# closes, so the client can read the answer (aiohttp's default is 10 s: a stranger's socket held
# that long, and shutdown held with it). Slack's own requests are always read in full.
LINGER = 0.5
# Slack's replay window: "more than five minutes from local time" is refused.
REPLAY_WINDOW = 5 * 60
# No one reads the answer to a client that hung up; nginx logs such requests as 499.
CLIENT_GONE = 499
TOO_SLOW = 408

_TIMESTAMP = re.compile(r"[0-9]{1,15}")  # ASCII digits only: int() would also take " 1_0" or "١"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_UTF8 = ("utf-8", "utf8")
# Top-level fields of an interactivity payload that Bolt and our listeners read as objects
# (Slack's reference: `user`, `channel`, `team`, `container`, `message` are objects).
_OBJECTS = ("user", "channel", "team", "container", "message", "enterprise")
# Fields Bolt reads as objects whenever they are present, even as null (`view` is there when a
# button is clicked in a modal; `event` only in the Events API). A form cannot hold objects.
_ALWAYS_OBJECTS = ("event", "view")
_NOT_IN_FORMS = frozenset(_ALWAYS_OBJECTS)


class Answered(Exception):
    """A request answered at the door, with `status` and a short reason of our own words: a
    refusal (4xx), or Slack's SSL check (200)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Admitted:
    """A verified request: its body decoded, and parsed far enough to know its shape is sound."""

    text: str
    fields: dict[str, Any]
    # a slash command, a click's payload=, or an Events API body (JSON, rebuilt: see _event)
    kind: Literal["form", "payload", "event"]


class RequestGuard:
    def __init__(
        self,
        signing_secret: str,
        *,
        max_body: int = MAX_BODY,
        body_timeout: float = BODY_TIMEOUT,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._secret = signing_secret.encode()
        self.max_body = max_body
        self.body_timeout = body_timeout
        self._now = now

    async def admit(self, request: web.Request) -> Admitted:
        """Read the body and check it; raise `Answered` for anything Slack would not send.

        A client that goes away mid-body also ends in `Answered` (CLIENT_GONE): there is no one
        left to answer, and nothing worth more than a DEBUG line happened."""
        raw = await self._read(request)
        if _is_ssl_check(request.headers.get("Content-Type", ""), raw):
            raise Answered(200, "Slack's SSL check")
        self._verify(request.headers, raw)
        text = _decode(request.headers.get("Content-Type", ""), raw)
        if _media(request.headers.get("Content-Type", ""))[0] == _JSON:
            event = _event(_json_object(text, "body"))
            return Admitted(json.dumps(event), event, "event")
        fields, kind = _parse(request.headers.get("Content-Type", ""), text)
        if kind == "payload" and fields.get("type") in REBUILT:
            # The form's payloads are rebuilt from their checked fields (bot/web/guard_views.py),
            # and Bolt reads the body it is given: so it gets the rebuilt one.
            text = urlencode({"payload": json.dumps(fields)})
        return Admitted(text, fields, kind)

    async def _read(self, request: web.Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared > self.max_body:
            raise Answered(413, "body too large")
        raw = bytearray()
        try:
            async with asyncio.timeout(self.body_timeout):
                # Read ourselves, bounded: `request.read()` would answer with aiohttp's own 413.
                while len(raw) <= self.max_body:
                    chunk = await request.content.read(self.max_body + 1 - len(raw))
                    if not chunk:
                        break
                    raw += chunk
        except TimeoutError:
            raise Answered(TOO_SLOW, "body not received in time") from None
        except ConnectionError:
            raise Answered(CLIENT_GONE, "client went away mid-body") from None
        if len(raw) > self.max_body:
            raise Answered(413, "body too large")
        return bytes(raw)

    def _verify(self, headers: Mapping[str, str], raw: bytes) -> None:
        # Not slack_sdk's SignatureVerifier: it raises, rather than answering False, on what a
        # stranger controls (int() of a non-integer timestamp, UTF-8 decoding of the body,
        # compare_digest of a non-ASCII signature). The scheme is three lines; here it is, over
        # the raw bytes, after the headers' form has been checked.
        if not self._secret:  # fail closed: an empty key is one anybody can sign with
            raise Answered(401, "no signing secret configured")
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            raise Answered(401, "missing or malformed signature headers")
        if abs(self._now() - int(timestamp)) > REPLAY_WINDOW:
            raise Answered(401, "timestamp outside the 5-minute window")
        base = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Answered(401, "bad signature")


def _is_ssl_check(content_type: str, raw: bytes) -> bool:
    """Slack checks a slash command's certificate with an unsigned `ssl_check=1&token=…` form
    and wants a 200 (https://api.slack.com/interactivity/slash-commands; bolt-js#1397 shows one
    on the wire: no signature headers). Answered here, never passed on, and only for exactly
    `ssl_check=1`: bolt-python#1494 and bolt-js#2899 were requests smuggled past verification
    under a looser test."""
    if len(raw) > 1024 or _media(content_type)[0] != _FORM:
        return False
    # Slack writes the field as it is named. A body without those bytes is verified like any
    # other request (an encoded name, `ssl%5Fcheck=1`, only ever comes from someone else), and
    # every command is spared a second parse of its form: a burst's acks wait on each one.
    if b"ssl_check=1" not in raw:
        return False
    try:
        fields = parse_qsl(raw.decode("ascii"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return ("ssl_check", "1") in fields


def _media(content_type: str) -> tuple[str, str | None]:
    kind, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def _decode(content_type: str, raw: bytes) -> str:
    kind, charset = _media(content_type)
    if kind not in (_FORM, _JSON):
        raise Answered(400, "unsupported content type")
    if charset is not None and charset not in _UTF8:
        raise Answered(400, "unsupported charset")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Answered(400, "body is not UTF-8") from None


# The Events API events manifest.yml subscribes to (settings.event_subscriptions.bot_events).
SUBSCRIBED_EVENTS = frozenset(
    {"subteam_members_changed", "subteam_updated", "app_home_opened", "user_change"}
)
# app_home_opened's `tab`: the Home tab, or the app's messages (DM) tab.
_TABS = frozenset({"home", "messages"})
MAX_CHALLENGE = 1000
MAX_EMAIL = 254  # RFC 5321's longest address: a longer one is no one's


def unhandled(body: dict[str, Any]) -> str | None:
    """Why an Events API body is acknowledged and dropped, or None if the bot reads it.

    Slack throttles, then disables, the event subscriptions of an app that does not answer 200
    to 5% of its deliveries in an hour (docs.slack.dev/reference/events/app_rate_limited), so
    a well-formed body the bot has no use for is answered 200 and ignored rather than refused:
    `app_rate_limited` itself, sent to every app without any subscription, and an
    `event_callback` of a type manifest.yml does not subscribe to (the app's settings and the
    manifest can drift apart). The same answer serves Socket Mode (bot/web/socket_mode.py)."""
    kind = body.get("type")
    if kind == "app_rate_limited":
        # Events beyond 30,000 an hour from one workspace are being dropped: the operator
        # should know, but there is nothing to answer but 200.
        log.warning("Slack is rate-limiting this app's event deliveries (app_rate_limited)")
        return "Slack's app_rate_limited notice"
    event = body.get("event") if kind == "event_callback" else None
    if isinstance(event, dict):
        kind_of_event = event.get("type")
        if not isinstance(kind_of_event, str):
            return None  # malformed: refused by `_event`
        if kind_of_event not in SUBSCRIBED_EVENTS:
            return "an event this app does not handle"
    return None


def _event(body: dict[str, Any]) -> dict[str, Any]:
    """An Events API body (JSON) in Slack's shape, rebuilt from the fields the bot reads.

    Two kinds reach Bolt: `url_verification`, which Slack sends when the request URL is saved
    and which Bolt answers with its `challenge`, and an `event_callback` carrying an event
    manifest.yml subscribes to (docs.slack.dev/apis/events-api: the outer `event_callback` wrapper
    with `team_id`, `api_app_id`, `event_id`, `event_time` and the `event` itself;
    docs.slack.dev/reference/events/subteam_members_changed for the inner event). Bolt reads
    many optional fields of a body (`authorizations[0]`, `event.user`, `event.channel`...) and
    trips on odd shapes there; passing it only what was checked leaves it nothing to trip on.
    What else is well-formed is answered 200 and dropped (`unhandled`); the malformed, 400.
    """
    ignored = unhandled(body)
    if ignored is not None:
        raise Answered(200, ignored)
    kind = body.get("type")
    if kind == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= MAX_CHALLENGE:
            raise Answered(400, "url_verification without a challenge")
        return {"type": kind, "challenge": challenge}
    if kind != "event_callback":
        raise Answered(400, "not a request this app takes (JSON body)")
    event = body.get("event")
    if not isinstance(event, dict):
        raise Answered(400, "`event` is not an object")
    kind_of_event = event.get("type")
    if not isinstance(kind_of_event, str):
        raise Answered(400, "an event without a type")
    if kind_of_event == "app_home_opened":
        return _home_opened(body, event)
    if kind_of_event == "subteam_updated":
        return _group_updated(body, event)
    if kind_of_event == "user_change":
        return _user_changed(body, event)
    scope, subteam = event_scope(body), event.get("subteam_id")
    if scope is None or not (isinstance(subteam, str) and ANY_ID.fullmatch(subteam)):
        raise Answered(400, "event without a team and user-group ID")
    rebuilt: dict[str, Any] = {"type": kind, **scope}
    for name in ("api_app_id", "event_id"):
        if isinstance(body.get(name), str):
            rebuilt[name] = body[name][:64]
    # Only the group matters to the bot: the event's delta is never trusted as the members.
    rebuilt["event"] = {"type": kind_of_event, "subteam_id": subteam}
    return rebuilt


def _group_updated(body: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """subteam_updated (docs.slack.dev/reference/events/subteam_updated): the whole group in
    `subteam`, sent for a change to its name, handle or members, and also "when a subteam has
    been disabled", which its `date_delete` (0 while it is enabled) tells. Only `id` and
    `date_delete` are kept: the `users` it carries are cut at 500, so they are never the
    members; the bot reads them again."""
    scope, group = event_scope(body), event.get("subteam")
    if not isinstance(group, dict):
        raise Answered(400, "subteam_updated without a `subteam` object")
    group_id, deleted = group.get("id"), group.get("date_delete", 0)
    if scope is None or not (isinstance(group_id, str) and ANY_ID.fullmatch(group_id)):
        raise Answered(400, "event without a team and user-group ID")
    if isinstance(deleted, float) and math.isfinite(deleted):
        deleted = int(deleted)  # an epoch time, in whatever number JSON carried it
    if isinstance(deleted, bool) or not isinstance(deleted, int) or deleted < 0:
        raise Answered(400, "subteam_updated with a `date_delete` that is not a time")
    rebuilt: dict[str, Any] = {"type": "event_callback", **scope}
    for name in ("api_app_id", "event_id"):
        if isinstance(body.get(name), str):
            rebuilt[name] = body[name][:64]
    rebuilt["event"] = {
        "type": "subteam_updated",
        "subteam": {"id": group_id, "date_delete": deleted},
    }
    return rebuilt


def _user_changed(body: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """user_change (docs.slack.dev/reference/events/user_change): the whole user object in
    `user`, sent for every profile edit of anyone in the workspace, and with `deleted: true`
    when a user is deactivated, the one case the bot acts on (offboarding, handlers/offboard.py).
    Only `user.id`, `user.deleted`, `user.is_bot` and `user.profile.email` (there only with
    users:read.email) are kept. Slack counts any answer but 200 as a failed delivery, and this
    event comes often: one that is not a deactivation, or whose user is not of the shape the
    bot reads (no object, `deleted` not a boolean, no user ID), is answered 200 and dropped
    here, so nothing is done for it."""
    scope, user = event_scope(body), event.get("user")
    if scope is None:
        raise Answered(400, "event without a team")
    if not isinstance(user, dict):
        raise Answered(200, "user_change without a `user` object: ignored")
    deleted, user_id = user.get("deleted"), user.get("id")
    if not isinstance(deleted, bool):
        raise Answered(200, "user_change whose `deleted` is not a boolean: ignored")
    if not deleted:
        raise Answered(200, "user_change that is not a deactivation")
    if not (isinstance(user_id, str) and USER_ID.fullmatch(user_id)):
        raise Answered(200, "user_change without a user ID: ignored")
    if user.get("is_bot") is True:
        raise Answered(200, "user_change of a bot user")
    kept: dict[str, Any] = {"id": user_id, "deleted": True, "is_bot": False}
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    if isinstance(email, str) and 0 < len(email) <= MAX_EMAIL:
        kept["profile"] = {"email": email}
    rebuilt: dict[str, Any] = {"type": "event_callback", **scope}
    for name in ("api_app_id", "event_id"):
        if isinstance(body.get(name), str):
            rebuilt[name] = body[name][:64]
    rebuilt["event"] = {"type": "user_change", "user": kept}
    return rebuilt


def _home_opened(body: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """app_home_opened (docs.slack.dev/reference/events/app_home_opened): only `user` and `tab`
    matter. The `view` it may carry is what the tab showed; the bot publishes afresh from the
    store, so it is dropped here rather than trusted."""
    scope, user, tab = event_scope(body), event.get("user"), event.get("tab")
    if scope is None or not (isinstance(user, str) and ANY_ID.fullmatch(user)):
        raise Answered(400, "event without a team and user ID")
    if tab is not None and not isinstance(tab, str):
        raise Answered(400, "app_home_opened with a `tab` that is not a string")
    # `tab` is optional in Slack's event types (seratch/seratch-slack-types, AppHomeOpenedPayload).
    # Without it, or naming a tab the bot shows nothing in, there is nothing to publish, as in
    # Slack's own samples (`if (event.tab !== 'home') return;`); every change republishes anyway.
    if tab not in _TABS:
        raise Answered(200, "app_home_opened for no tab the bot shows")
    rebuilt: dict[str, Any] = {"type": "event_callback", **scope}
    for name in ("api_app_id", "event_id"):
        if isinstance(body.get(name), str):
            rebuilt[name] = body[name][:64]
    rebuilt["event"] = {"type": "app_home_opened", "user": user, "tab": tab}
    return rebuilt


def _parse(content_type: str, text: str) -> tuple[dict[str, Any], Literal["form", "payload"]]:
    """The request's fields, as Bolt will read them, refused unless they are one of the
    kinds of form-encoded request manifest.yml asks Slack for, in Slack's shape: a slash
    command, a `block_actions` click, or the request form's shortcut and submission (rebuilt
    in bot/web/guard_views.py: Bolt itself trips over odd shapes there, such as a `view` that is
    not an object)."""
    kind, _ = _media(content_type)
    if kind == _JSON or text.startswith("{"):  # Bolt reads a body starting with { as JSON
        raise Answered(400, "not a request this app takes (JSON body)")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        payload = _shaped(_json_object(fields["payload"], "payload"))
        try:
            form_payload = rebuilt(payload)
        except Refused as refused:
            raise Answered(400, str(refused)) from None
        if form_payload is not None:
            return form_payload, "payload"
        if payload.get("type") != "block_actions":
            raise Answered(400, "not a request this app takes (payload type)")
        return payload, "payload"
    if not isinstance(fields.get("command"), str) or _NOT_IN_FORMS & fields.keys():
        raise Answered(400, "not a request this app takes (form)")
    return fields, "form"


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Answered(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Answered(400, f"{what} is not a JSON object")
    return value


def _shaped(payload: dict[str, Any]) -> dict[str, Any]:
    for name in _ALWAYS_OBJECTS:
        if name in payload and not isinstance(payload[name], dict):
            raise Answered(400, f"`{name}` is not an object")
    for name in _OBJECTS:
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("id", ""), str):
            raise Answered(400, f"`{name}` is not an object with a string id")
    for name in ("type", "response_url", "trigger_id"):
        if not isinstance(payload.get(name, ""), str):
            raise Answered(400, f"`{name}` is not a string")
    actions = payload.get("actions")
    if actions is not None or payload.get("type") == "block_actions":
        if not isinstance(actions, list) or not actions:
            raise Answered(400, "`actions` is not a list of actions")
        for action in actions:
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                raise Answered(400, "`actions` is not a list of actions")
            if not all(isinstance(action.get(key, ""), str) for key in ("block_id", "value")):
                raise Answered(400, "`actions` is not a list of actions")
    return payload


def bolt_request(request: web.Request, admitted: Admitted) -> AsyncBoltRequest:
    """What Bolt's aiohttp adapter builds, from the body already read and checked."""
    text = admitted.text
    if admitted.kind == "form":
        # Bolt reads any form whose text contains "payload" (`/chime user payload@example.com`,
        # a user named payload) as a button click without a payload, and answers 404. The same
        # form with that p percent-encoded reads the same to everyone else. Bolt's signature
        # check, which this would fail, is off: this module has verified the original bytes.
        text = text.replace("payload", "%70ayload")
    try:
        return AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # Bolt takes any str mapping
        )
    except Exception as exc:
        # The shape checks above are meant to leave nothing for Bolt's parser to trip on; if
        # something still does, the request was Slack-signed, so say what, without its data.
        raise Answered(400, f"request Bolt cannot read ({type(exc).__name__})") from None


def answer(request: web.Request, answered: Answered) -> web.Response:
    """The answer given at the door, and its one log line: our words and the peer's address,
    nothing the client wrote, so its length is bounded whatever was sent."""
    if answered.status == 200:
        log.debug("answered %s", answered.reason)
        return web.Response(status=200)
    # A client too slow or gone is no one's concern; a bad signature may be a wrong secret.
    level = logging.DEBUG if answered.status in (CLIENT_GONE, TOO_SLOW) else logging.INFO
    log.log(level, "refused %s from %s: %s", answered.status, request.remote, answered.reason)
    return web.json_response({"error": answered.reason}, status=answered.status)
