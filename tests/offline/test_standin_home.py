"""The Slack stand-in's views.publish, as Slack's reference describes it, through slack_sdk's
own client: what it accepts, and each refusal the bot must survive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.offline.blockkit import home_view_problems
from bot.offline.slack_standin import SlackStandIn

USER = "U0ALICE"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = SlackStandIn()
    await standin.start()
    yield standin
    await standin.stop()


def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


def section(text: str = "hello") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "plain_text", "text": text, "emoji": False}}


def home(blocks: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "home", "blocks": [section(f"b{i}") for i in range(blocks)], **extra}


async def refused(slack: SlackStandIn, view: object, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await client(slack).views_publish(user_id=USER, view=view, **kwargs)  # type: ignore[arg-type]
    data: dict[str, Any] = raised.value.response.data  # type: ignore[assignment]
    return data


async def test_a_home_view_is_published_with_slacks_view_object(slack: SlackStandIn) -> None:
    answer = await client(slack).views_publish(
        user_id=USER, view=home(2, private_metadata="p" * 3000, callback_id="c" * 255)
    )
    view = answer["view"]
    assert view["type"] == "home" and view["id"].startswith("V") and view["hash"]
    assert view["private_metadata"] == "p" * 3000 and len(view["blocks"]) == 2
    assert slack.home.views[USER] == view

    again = await client(slack).views_publish(user_id=USER, view=home(1), hash=view["hash"])
    assert again["view"]["id"] == view["id"] and again["view"]["hash"] != view["hash"]
    assert slack.home.publishes_for(USER) == 2


async def test_a_hundred_blocks_pass_and_a_hundred_and_one_do_not(slack: SlackStandIn) -> None:
    await client(slack).views_publish(user_id=USER, view=home(100))
    answer = await refused(slack, home(101))
    assert answer["error"] == "invalid_arguments"
    assert any("101 blocks" in m for m in answer["response_metadata"]["messages"])


@pytest.mark.parametrize(
    ("view", "problem"),
    [
        (home(1) | {"type": "modal"}, "view.type"),
        (home(1, private_metadata="p" * 3001), "view.private_metadata"),
        (home(1, callback_id="c" * 256), "view.callback_id"),
        (home(1, title={"type": "plain_text", "text": "x"}), "view.title"),
        ({"type": "home", "blocks": []}, "view.blocks"),
        ({"type": "home", "blocks": [section("x" * 3001)]}, "view.blocks[0].text"),
    ],
)
async def test_views_slack_would_not_take_are_invalid_arguments(
    slack: SlackStandIn, view: dict[str, Any], problem: str
) -> None:
    assert home_view_problems(home(1)) == []  # the control: a valid view passes
    answer = await refused(slack, view)
    assert answer["error"] == "invalid_arguments"
    assert any(problem in m for m in answer["response_metadata"]["messages"])
    assert USER not in slack.home.views, "nothing was published"


async def test_a_stale_hash_is_a_conflict_and_changes_nothing(slack: SlackStandIn) -> None:
    assert (await refused(slack, home(1), hash="1.2"))["error"] == "hash_conflict"
    first = (await client(slack).views_publish(user_id=USER, view=home(1)))["view"]
    assert (await refused(slack, home(3), hash="1.2"))["error"] == "hash_conflict"
    assert slack.home.views[USER] == first


async def test_not_enabled_too_large_and_bad_user(slack: SlackStandIn) -> None:
    too_large = {"type": "home", "blocks": [section("x" * 2900) for _ in range(90)]}
    assert (await refused(slack, too_large))["error"] == "view_too_large"
    with pytest.raises(SlackApiError) as bad_user:
        await client(slack).views_publish(user_id="not-a-user", view=home(1))
    assert bad_user.value.response["error"] == "invalid_arguments"
    slack.home.enabled = False
    assert (await refused(slack, home(1)))["error"] == "not_enabled"
