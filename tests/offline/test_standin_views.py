"""The stand-in's views.open and views.update answer as Slack's reference says, over real HTTP
through slack_sdk, and refuse the modals Slack would (bot.offline.blockkit.modal_problems)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.form import Field, Origin, form_view, loading_view
from bot.models import Account
from bot.offline.blockkit import block_problems, modal_problems
from bot.offline.slack_standin import SlackStandIn
from bot.offline.standin_views import TRIGGER_LIFETIME
from tests.approvals.test_request_form import CORP
from tests.conftest import CHANNEL, REQUESTER


def modal(**fields: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Title"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "Hello"}}],
        "submit": {"type": "plain_text", "text": "Go"},
        **fields,
    }


def text_input(block_id: str = "b", **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": "Label"},
        "element": {"type": "plain_text_input", "action_id": "a", **element},
    }


def select(*options: dict[str, Any], **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "s",
        "label": {"type": "plain_text", "text": "Pick"},
        "element": {"type": "static_select", "action_id": "a", "options": list(options), **element},
    }


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


MRKDWN = {"type": "mrkdwn", "text": "*pick*"}
SECTION = {"type": "section", "text": {"type": "plain_text", "text": "Hello"}}


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackStandIn, AsyncWebClient]]:
    standin = SlackStandIn()
    await standin.start()
    yield standin, AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    await standin.stop()


# ---- the view rules ---------------------------------------------------------------------------


def test_the_bots_own_views_are_valid() -> None:
    origin = Origin(REQUESTER, "")
    accounts = [Account(f"id-{i}", "x" * 100 + str(i), "Team") for i in range(150)]
    for view in (
        loading_view("s" * 3000),
        form_view("sealed", origin, accounts, None),
        form_view("sealed", Origin(REQUESTER, CHANNEL), accounts[:1], None),
    ):
        assert modal_problems(view) == []


@pytest.mark.parametrize(
    ("view", "wanted"),
    [
        (modal(type="home"), "view.type"),
        (modal(title={"type": "plain_text", "text": "x" * 25}), "view.title.text"),
        (modal(title={"type": "mrkdwn", "text": "Title"}), "view.title.type"),
        (modal(submit={"type": "plain_text", "text": "x" * 25}), "view.submit.text"),
        (modal(close={"type": "plain_text", "text": "x" * 25}), "view.close.text"),
        (modal(private_metadata="x" * 3001), "view.private_metadata"),
        (modal(callback_id="x" * 256), "view.callback_id"),
        (modal(blocks=[{"type": "divider"}] * 101), "view.blocks: 101 blocks"),
        (modal(blocks=[text_input()], submit=None), "view.submit: required"),
        (modal(blocks=[text_input(max_length=3001)]), "max_length"),
        (modal(blocks=[text_input(initial_value="toolong", max_length=3)]), "initial_value"),
        (modal(blocks=[text_input(), text_input()]), "used twice"),
        (modal(blocks=[select(option("x" * 76, "v"))]), "options[0].text.text"),
        (modal(blocks=[select(option("x", "v" * 151))]), "options[0].value"),
        (modal(blocks=[select(option("x", "v"), initial_option=option("y", "w"))]), "initial"),
        (modal(blocks=[select(*[option("x", str(i)) for i in range(101)])]), "1 to 100"),
        (modal(blocks=[{**text_input(), "element": {"type": "button"}}]), "input elements"),
        (modal(blocks=[{**text_input(), "label": {"type": "mrkdwn", "text": "*x*"}}]), "label"),
        (modal(extra=1), "view.extra"),
        # Select menus take plain_text only, in options and placeholders alike.
        (modal(blocks=[select({**option("x", "v"), "text": MRKDWN})]), "options[0].text.type"),
        (modal(blocks=[select(option("x", "v"), placeholder=MRKDWN)]), "placeholder.type"),
        (modal(blocks=[text_input(placeholder=MRKDWN)]), "element.placeholder.type"),
        # Fields a block, an element, an option or a dialog does not have.
        (modal(blocks=[text_input(colour="red")]), "element.colour: not a field"),
        (modal(blocks=[{**text_input(), "colour": "red"}]), "colour: not a field of an input"),
        (modal(blocks=[select({**option("x", "v"), "emoji": True})]), "options[0].emoji"),
        (modal(blocks=[{**SECTION, "colour": "red"}]), "colour: not a field of a section"),
    ],
)
def test_modals_slack_refuses_are_refused(view: dict[str, Any], wanted: str) -> None:
    view = {k: v for k, v in view.items() if v is not None}
    problems = modal_problems(view)
    assert any(wanted in p for p in problems), problems


# ---- views.open and views.update --------------------------------------------------------------


async def test_a_trigger_opens_one_view_within_three_seconds(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    for bad in ("", "not-a-trigger", "1.2.abcdef"):  # the last: well formed, never issued
        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id=bad, view=modal())
        assert refused.value.response["error"] == "invalid_trigger_id"
    trigger = standin.views.issue_trigger(REQUESTER)
    opened = await client.views_open(trigger_id=trigger, view=modal())
    assert opened["view"]["id"] and opened["view"]["hash"]
    with pytest.raises(SlackApiError) as again:
        await client.views_open(trigger_id=trigger, view=modal())
    assert again.value.response["error"] == "exchanged_trigger_id"
    late = standin.views.issue_trigger(REQUESTER)
    standin.views.late_by = TRIGGER_LIFETIME + 0.1
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=late, view=modal())
    assert expired.value.response["error"] == "expired_trigger_id"


async def test_an_invalid_view_is_refused_with_slacks_reasons(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    trigger = standin.views.issue_trigger(REQUESTER)
    with pytest.raises(SlackApiError) as refused:
        too_long = modal(title={"type": "plain_text", "text": "A title of 25 characters."})
        await client.views_open(trigger_id=trigger, view=too_long)
    assert refused.value.response["error"] == "invalid_arguments"
    messages = refused.value.response["response_metadata"]["messages"]
    assert any("view.title.text: 25 characters" in m for m in messages)
    assert not standin.views.views
    # The trigger was not used up by the refused view.
    assert (await client.views_open(trigger_id=trigger, view=modal()))["ok"]


async def test_an_update_needs_the_current_hash(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    opened = await client.views_open(
        trigger_id=standin.views.issue_trigger(REQUESTER), view=modal()
    )
    view_id, first = opened["view"]["id"], opened["view"]["hash"]
    updated = await client.views_update(view_id=view_id, hash=first, view=modal(callback_id="x"))
    assert updated["view"]["callback_id"] == "x" and updated["view"]["hash"] != first
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=view_id, hash=first, view=modal())
    assert stale.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        await client.views_update(view_id="V0NOTHERE", view=modal())
    assert missing.value.response["error"] == "not_found"
    # Without a hash, the update is taken whatever came before (the reference's optional hash).
    assert (await client.views_update(view_id=view_id, view=modal()))["ok"]
    assert [v["callback_id"] for v in standin.views.views[view_id].history] == ["", "x", ""]


def test_the_form_offers_the_default_account_first() -> None:
    accounts = [Account(CORP, "Example Corp", "EnterpriseLWA"), Account("t", "Team", "Team")]
    view = form_view("sealed", Origin(REQUESTER, CHANNEL), accounts, "Example Corp")
    (select_block,) = [b for b in view["blocks"] if b.get("block_id") == Field.ACCOUNT]
    assert select_block["element"]["initial_option"]["value"] == CORP


def test_messages_are_held_to_the_same_fields() -> None:
    button = {"type": "button", "action_id": "b", "text": {"type": "plain_text", "text": "Go"}}
    menu = {"type": "static_select", "action_id": "s", "options": [option("x", "v")]}
    dialog = {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "plain_text", "text": "Really"},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "No"},
    }
    assert block_problems([{"type": "actions", "elements": [button, menu]}]) == []
    for block, wanted in [
        ({"type": "actions", "elements": [{**button, "colour": "red"}]}, "colour"),
        ({"type": "actions", "elements": [{**button, "confirm": {**dialog, "x": 1}}]}, "x: not"),
        ({"type": "actions", "elements": [button], "colour": "red"}, "colour"),
        ({"type": "divider", "text": SECTION["text"]}, "text: not a field of a divider"),
        ({"type": "actions", "elements": [{**menu, "placeholder": MRKDWN}]}, "placeholder"),
        (
            {
                "type": "actions",
                "elements": [{**menu, "options": [{**option("x", "v"), "text": MRKDWN}]}],
            },
            "options[0].text.type",
        ),
    ]:
        problems = block_problems([block])
        assert any(wanted in p for p in problems), (block, problems)


async def test_views_over_250_kb_are_refused_when_opened_and_updated(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    # Within every other limit: 100 blocks of 2,900 characters, about 300 kB.
    text = {"type": "plain_text", "text": "x" * 2900}
    big = modal(blocks=[{**SECTION, "text": text, "block_id": str(i)} for i in range(100)])
    assert modal_problems(big) == []
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=standin.views.issue_trigger(REQUESTER), view=big)
    assert refused.value.response["error"] == "view_too_large"
    opened = await client.views_open(
        trigger_id=standin.views.issue_trigger(REQUESTER), view=modal()
    )
    with pytest.raises(SlackApiError) as too_big:
        await client.views_update(view_id=opened["view"]["id"], view=big)
    assert too_big.value.response["error"] == "view_too_large"


# ---- answers to a view_submission ---------------------------------------------------------------


async def opened_form(standin: SlackStandIn, client: AsyncWebClient) -> str:
    view = modal(blocks=[SECTION, text_input("email")])
    opened = await client.views_open(trigger_id=standin.views.issue_trigger(REQUESTER), view=view)
    return str(opened["view"]["id"])


@pytest.mark.parametrize(
    ("answer", "wanted"),
    [
        ({"response_action": "errors", "errors": {"nope": "Fix it"}}, "errors.nope"),
        ({"response_action": "errors", "errors": {"email": ""}}, "errors.email: not a message"),
        ({"response_action": "errors", "errors": {}}, "errors: an object"),
        ({"response_action": "update", "view": modal(type="home")}, "view.type"),
        ({"response_action": "update", "view": modal(), "errors": {}}, "errors: not part"),
        ({"response_action": "close"}, "response_action: 'close'"),
        ({"text": "thanks"}, "response_action: None"),
        ([], "not a JSON object"),
    ],
    ids=[
        "errors-key",
        "errors-empty-message",
        "errors-empty",
        "update-invalid",
        "update-extra",
        "unknown-action",
        "no-action",
        "array",
    ],
)
async def test_answers_slack_would_not_take_are_refused(
    slack: tuple[SlackStandIn, AsyncWebClient], answer: Any, wanted: str
) -> None:
    standin, client = slack
    view_id = await opened_form(standin, client)
    problems = standin.views.answered(view_id, answer)
    assert any(wanted in p for p in problems), problems
    assert standin.views.refused_answers == [(view_id, problems)]


async def test_answers_slack_takes_are_taken_and_an_update_is_shown(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    view_id = await opened_form(standin, client)
    for answer in (None, {}, {"response_action": "errors", "errors": {"email": "Fix it"}}):
        assert standin.views.answered(view_id, answer) == []
    shown = modal(callback_id="after")
    assert standin.views.answered(view_id, {"response_action": "update", "view": shown}) == []
    assert standin.views.views[view_id].view["callback_id"] == "after"
    assert not standin.views.refused_answers
