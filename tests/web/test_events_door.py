"""The Events API through the door of `/slack/events`: signed JSON bodies of exactly the kinds
manifest.yml subscribes to pass (url_verification, subteam_members_changed), other well-formed
ones Slack sends (app_rate_limited, events of other types) are answered 200 and dropped, the
malformed are refused with a 4xx, no signed event shape reaches a 5xx, and Socket Mode delivers
and acks the same events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import TEAM_ID, SlackStandIn
from bot.offline.wiring import BotProcess, OfflineBot
from bot.web.http_guard import SUBSCRIBED_EVENTS
from tests.hostile import signed
from tests.web.test_http_door import bot_thread, json_values  # noqa: F401  (the fixture, reused)
from tests.web.test_property_http import BotThread

JSON = "application/json"
ROOT = Path(__file__).resolve().parents[2]


def event_body(**event: Any) -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0CHIMEBOT",
        "type": "event_callback",
        "event_id": "Ev0TEST",
        "event_time": 1,
        "event": {"type": "subteam_members_changed", "subteam_id": "S0GROUP", **event},
    }


async def post(bot: OfflineBot, body: bytes, *, secret: str | None = None) -> tuple[int, bytes]:
    key = secret if secret is not None else _secret(bot)
    headers = signed(key, body, content_type=JSON)
    async with bot.sender.session.post(bot.sender.bot_url, data=body, headers=headers) as resp:
        return resp.status, await resp.read()


def _secret(bot: OfflineBot) -> str:
    secret = bot.runtime.settings.slack_signing_secret
    assert secret is not None
    return secret.get_secret_value()


def test_the_door_takes_exactly_the_events_the_manifest_subscribes_to() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    subscriptions = manifest["settings"]["event_subscriptions"]
    assert set(subscriptions["bot_events"]) == SUBSCRIBED_EVENTS
    assert subscriptions["request_url"].endswith("/slack/events")
    assert "usergroups:read" in manifest["oauth_config"]["scopes"]["bot"]


async def test_a_signed_event_is_taken_and_a_strangers_is_not(bot: OfflineBot) -> None:
    body = json.dumps(event_body()).encode()
    assert (await post(bot, body))[0] == 200
    assert (await post(bot, body, secret="not-the-secret"))[0] == 401
    headers = {"Content-Type": JSON}
    async with bot.sender.session.post(bot.sender.bot_url, data=body, headers=headers) as resp:
        assert resp.status == 401, "unsigned"


async def test_url_verification_is_answered_with_its_challenge(bot: OfflineBot) -> None:
    body = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    status, answer = await post(bot, json.dumps({**body, "type": "url_verification"}).encode())
    assert status == 200 and json.loads(answer) == {"challenge": body["challenge"]}
    status, _ = await post(bot, json.dumps({"type": "url_verification"}).encode())
    assert status == 400


@pytest.mark.parametrize(
    "body",
    [
        {**event_body(), "type": "block_actions"},  # a click in JSON is not how Slack sends one
        {**event_body(), "event": "subteam_members_changed"},
        {**event_body(), "event": None},
        event_body(subteam_id=["S0GROUP"]),
        event_body(subteam_id="S0<!here>"),
        {**event_body(), "team_id": {"id": TEAM_ID}},
        [event_body()],
        event_body(type=["message"]),
        event_body(type="app_home_opened", user="U0ALICE", tab=["home"]),
    ],
    ids=[
        "not-an-event",
        "event-string",
        "event-null",
        "subteam-list",
        "subteam-markup",
        "team-object",
        "array",
        "type-list",
        "tab-list",
    ],
)
async def test_other_json_bodies_are_refused_with_a_4xx(bot: OfflineBot, body: Any) -> None:
    status, answer = await post(bot, json.dumps(body).encode())
    assert status == 400 and b"Traceback" not in answer


# Well-formed bodies Slack sends that the bot has no use for. Slack throttles, then disables,
# the subscriptions of an app that fails 5% of its deliveries in an hour
# (docs.slack.dev/reference/events/app_rate_limited), so these get a 200, and nothing else.
RATE_LIMITED = {
    "token": "deprecated-verification-token",
    "type": "app_rate_limited",
    "team_id": TEAM_ID,
    "minute_rate_limited": 1518467820,
    "api_app_id": "A0CHIMEBOT",
}
IGNORED = {
    # sent to every app, without any subscription
    "app_rate_limited": RATE_LIMITED,
    # events of types the bot does not subscribe to (the app's settings may say otherwise)
    "message": event_body(type="message", channel="C0DEMOCHAN", user="U0ALICE", text="hi"),
    "app_mention": event_body(type="app_mention", user="U0ALICE", text="<@U0CHIMEBOT>"),
    # `tab` is optional in Slack's event types
    "home-without-tab": event_body(type="app_home_opened", user="U0ALICE"),
    "home-other-tab": event_body(type="app_home_opened", user="U0ALICE", tab="about"),
    # a deactivation, with CHIME_OFFBOARDING off (the default): acked, nothing else
    "user_change": event_body(
        type="user_change", user={"id": "U0ALICE", "deleted": True, "profile": {}}
    ),
}


@pytest.mark.parametrize("name", sorted(IGNORED))
async def test_well_formed_events_the_bot_does_not_handle_get_a_200(
    bot: OfflineBot, name: str
) -> None:
    status, _ = await post(bot, json.dumps(IGNORED[name]).encode())
    assert status == 200
    assert not bot.slack.calls_to("views.publish"), "nothing was handled"
    # Signed is still a condition of the 200.
    assert (await post(bot, json.dumps(IGNORED[name]).encode(), secret="wrong"))[0] == 401


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    top=st.dictionaries(
        st.sampled_from(["type", "team_id", "authorizations", "event", "enterprise_id"]),
        json_values,
        max_size=3,
    ),
    inner=st.dictionaries(
        st.sampled_from(["type", "subteam_id", "user", "team", "channel", "user_team"]),
        json_values,
        max_size=3,
    ),
)
def test_no_signed_event_shape_gets_a_5xx_or_an_error_log(
    bot_thread: BotThread,  # noqa: F811
    top: dict[str, Any],
    inner: dict[str, Any],
) -> None:
    bot = bot_thread.bot
    assert bot is not None
    base = event_body()
    body = {**base, "event": {**base["event"], **inner}, **top}
    status, _ = bot_thread.run(post(bot, json.dumps(body).encode()))
    assert status < 500, body
    assert not bot_thread.logged_errors, [r.getMessage() for r in bot_thread.logged_errors]
    assert not bot_thread.errors


async def test_socket_mode_takes_the_event_too(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    slack.usergroups["S0GROUP"] = ["U0ALICE"]
    bot = await BotProcess(
        emulator.url,
        slack,
        tmp_path / "state.db",
        session,
        SLACK_APP_TOKEN="xapp-1-A0CHIMEBOT-socket",
        CHIME_APPROVERS="S0GROUP",
        CHIME_GROUP_CACHE_TTL="3600",
    ).start()
    try:
        await slack.wait_connected()
        ack = await bot.sender.socket_event(slack.change_members("S0GROUP", ["U0BOB"]))
        assert "envelope_id" in ack
        # The bot forgets the group and reads it again at once (nothing had read it before).
        await slack.wait_for(lambda: bool(slack.calls_to("usergroups.users.list")))
        (call,) = slack.calls_to("usergroups.users.list")
        assert call.args["usergroup"] == "S0GROUP"
        # What the HTTP door answers 200 is acked over the socket too, not left to be resent.
        for name in sorted(IGNORED):
            ack = await bot.sender.socket_event(IGNORED[name])
            assert "envelope_id" in ack, name
        assert not slack.calls_to("views.publish")
        assert "Traceback" not in bot.log() and "Unhandled request" not in bot.log()
    finally:
        await bot.stop()
