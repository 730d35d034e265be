"""The request form's payloads at the door: the shortcut and the form's submission pass signed and
in Slack's shape, over HTTP and Socket Mode; unsigned ones, kinds the manifest never asked
for and odd shapes are refused with a 4xx, never a 5xx or an error log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cards.form import CALLBACK_ID, SHORTCUT_ID, Field
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import TEAM_ID, SlackStandIn
from bot.offline.standin_views import shortcut_payload, submission_payload
from bot.offline.wiring import BotProcess, OfflineBot
from tests.approvals.test_request_form import fields
from tests.conftest import REQUESTER
from tests.hostile import signed
from tests.web.test_http_door import json_values, signed_post
from tests.web.test_property_http import BotThread


def submission(**view: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": REQUESTER, "team_id": TEAM_ID},
        "team": {"id": TEAM_ID},
        "trigger_id": "1.2.abc",
        "view": {
            "id": "V0FORM",
            "hash": "1.a",
            "callback_id": CALLBACK_ID,
            "private_metadata": "",
            "state": {"values": {}},
            **view,
        },
    }


def form_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_unsigned_shortcuts_and_submissions_are_refused(bot: OfflineBot) -> None:
    shortcut = shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, "1.2.abc")
    for payload in (shortcut, submission()):
        body = form_body(payload)
        headers = signed("not-the-secret", body)
        async with bot.sender.session.post(bot.sender.bot_url, data=body, headers=headers) as resp:
            assert resp.status == 401
    assert not bot.slack.views.views and not bot.slack.calls_to("views.open")


@pytest.mark.parametrize(
    "payload",
    [
        shortcut_payload("someone_elses_shortcut", REQUESTER, TEAM_ID, "1.2.abc"),
        {**shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, "1.2.abc"), "type": "message_action"},
        {**shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, "1.2.abc"), "user": "U0X"},
        {**shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, "1.2.abc"), "trigger_id": None},
        submission(callback_id="another_view"),
        {**submission(), "type": "view_closed"},  # notify_on_close is never set
        submission(state={"values": {Field.EMAIL: "not an object"}}),
        submission(state={"values": []}),
        submission(private_metadata=["not", "a", "string"]),
        {**submission(), "view": "not an object"},
        {**submission(), "user": {"id": None}},
        {**submission(), "team": None, "user": {"id": REQUESTER}},
    ],
)
async def test_what_the_manifest_never_asked_for_is_refused(
    bot: OfflineBot, payload: dict[str, Any]
) -> None:
    assert await signed_post(bot, form_body(payload)) == 400
    assert not bot.slack.calls_to("views.open")


# ---- property: no signed shape of these payloads makes a 5xx or an error log ------------------

view_keys = st.sampled_from(
    ["id", "hash", "callback_id", "private_metadata", "state", "type", "team_id",
     "app_installed_team_id", "blocks", "title"]
)  # fmt: skip
top_keys = st.sampled_from(
    ["type", "user", "team", "view", "trigger_id", "callback_id", "response_urls", "enterprise",
     "channel", "is_enterprise_install", "api_app_id"]
)  # fmt: skip


@pytest.fixture(scope="module")
def bot_thread() -> Iterator[BotThread]:
    with BotThread() as running:
        yield running


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    top=st.dictionaries(top_keys, json_values, max_size=3),
    view=st.dictionaries(view_keys, json_values, max_size=3),
    values=json_values,
)
def test_no_signed_form_payload_shape_gets_a_5xx_or_an_error_log(
    bot_thread: BotThread, top: dict[str, Any], view: dict[str, Any], values: Any
) -> None:
    bot = bot_thread.bot
    assert bot is not None
    base = submission(state={"values": values})
    bodies = [
        form_body({**base, **top, "view": {**base["view"], **view}}),
        form_body({**shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, "1.2.abc"), **top}),
    ]
    for body in bodies:
        status = bot_thread.run(signed_post(bot, body))
        assert status < 500, body
    assert not bot_thread.logged_errors, [r.getMessage() for r in bot_thread.logged_errors]
    assert not bot_thread.errors


# ---- Socket Mode ------------------------------------------------------------------------------


async def test_socket_mode_opens_the_form_and_answers_its_errors(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    bot = await BotProcess(
        emulator.url,
        slack,
        tmp_path / "state.db",
        session,
        SLACK_APP_TOKEN="xapp-1-A0CHIMEBOT-socket",
        CHIME_APPROVERS="U0APPROVER,U0APPROVER2",
    ).start()
    try:
        await slack.wait_connected()
        trigger = slack.views.issue_trigger(REQUESTER)
        payload = shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, trigger)
        assert "envelope_id" in await slack.wait_ack(
            await slack.send_envelope("interactive", payload)
        )
        await slack.wait_for(lambda: len(slack.calls_to("views.update")) == 1)
        (form,) = slack.views.opened_for(REQUESTER)
        assert form.view["submit"]["text"] == "Request"
        # The submission Slack builds from that form, sent over the socket.
        wrong = submission_payload(
            form,
            {**fields("not an email"), Field.CHANNEL: "C0DEMOCHAN"},
            REQUESTER,
            TEAM_ID,
            "1.2.a",
        )
        ack = await slack.wait_ack(await slack.send_envelope("interactive", wrong))
        assert ack["payload"]["response_action"] == "errors"
        assert set(ack["payload"]["errors"]) == {Field.EMAIL}
    finally:
        await bot.stop()
