"""Slack's side of the conversation: requests to the bot, built, signed and sent as Slack does.

`SlackSender` builds slash-command forms, `block_actions` payloads (a button on a message or in a
Home tab), shortcuts, modal submissions and Events API bodies the way Slack does, signs them with
the v0 scheme (HMAC over `v0:{timestamp}:{body}`) and POSTs them to the bot's HTTP endpoint, or
delivers them over Socket Mode. Each request is an `Exchange`: the HTTP ack, and whatever the bot
later posts to the request's response_url on the stand-in (bot/offline/standin_server.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession
from slack_sdk.signature import SignatureVerifier

from bot.offline.standin_home import home_click_payload, home_opened_event
from bot.offline.standin_methods import TEAM_ID
from bot.offline.standin_server import SlackStandIn
from bot.offline.standin_views import shortcut_payload, submission_payload

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


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


class RefusedAnswer(AssertionError):
    """The bot answered a view_submission in a way Slack would refuse (the person would see a
    generic error in the modal); raised for the test or tool that submitted."""

    def __init__(self, view_id: str, problems: list[str]) -> None:
        super().__init__(f"Slack would refuse the answer to {view_id}: {'; '.join(problems)}")
        self.problems = problems


class SlackSender:
    """Slack, sending to the bot at `bot_url`: every request signed with `signing_secret`."""

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
        rid, form = self.slash_form(text, user_id, channel_id, command)
        return await self._post(urlencode(form), rid, retry_num, timestamp, secret)

    async def socket_command(
        self, text: str, *, user_id: str, channel_id: str, command: str = "/chime"
    ) -> Exchange:
        """The same slash command, delivered over Socket Mode instead of HTTP."""
        rid, form = self.slash_form(text, user_id, channel_id, command)
        started = time.perf_counter()
        envelope_id = await self.standin.send_envelope("slash_commands", form)
        ack = await self.standin.wait_ack(envelope_id)
        elapsed = time.perf_counter() - started
        return Exchange(200, ack.get("payload") or None, elapsed, rid, self.standin)

    def slash_form(
        self, text: str, user_id: str, channel_id: str, command: str
    ) -> tuple[str, dict[str, str]]:
        """A slash command's form as Slack posts it, with a fresh response_url; and that URL's
        ID. The benchmark signs and sends such forms over its own connections."""
        self.standin.users.add(user_id)
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
        self.standin.users.add(user_id)
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
        self.standin.users.add(user_id)
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
        self.standin.users.add(user_id)
        trigger = self.standin.views.issue_trigger(user_id)
        payload = submission_payload(opened, fields, user_id, TEAM_ID, trigger)
        if alter is not None:
            alter(payload)
        exchange = await self._payload(payload)
        refused = self.standin.views.answered(view_id, exchange.ack)
        if refused:
            raise RefusedAnswer(view_id, refused)
        return exchange

    async def _payload(self, payload: dict[str, Any]) -> Exchange:
        rid, _ = self.standin.new_response_url()  # no response_url in these; kept for shape
        return await self._post(urlencode({"payload": json.dumps(payload)}), rid, None, None, None)

    async def event(
        self, body: dict[str, Any], *, secret: str | None = None, retry_num: int | None = None
    ) -> Exchange:
        """POST an Events API body as Slack does: JSON, signed like everything else; with
        `retry_num`, as Slack sends it again when an earlier delivery went unacknowledged."""
        rid, _ = self.standin.new_response_url()  # events have no response_url; kept for shape
        return await self._post(json.dumps(body), rid, retry_num, None, secret, JSON_TYPE)

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
        content_type: str = FORM_TYPE,
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
