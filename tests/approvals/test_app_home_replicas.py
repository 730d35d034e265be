"""App Home with two `chime-bot serve` replicas on one DynamoDB table
(tests/approvals/test_replicas.py's set-up): a tab published by one replica is clicked through the
other, and the requester's tab reads their requests from the table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVER, BotProcess
from tests.approvals.test_replicas import (  # noqa: F401  (fixtures, reused)
    file_invite,
    replica_env,
    replicas,
    request_id,
)
from tests.blockkit import all_text
from tests.conftest import REQUESTER

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo  # noqa: F401

pytest_plugins = ("tests.dynamo",)


def shows(slack: SlackStandIn, user: str, text: str) -> bool:
    view = slack.home.views.get(user)
    return view is not None and text in json.dumps(view["blocks"])


async def test_a_tab_published_by_one_replica_is_clicked_through_the_other(
    replicas: list[BotProcess],  # noqa: F811
    peers: tuple[ChimeEmulator, SlackStandIn],
) -> None:
    emulator, slack = peers
    first, second = replicas
    card = await file_invite(first, slack, "home.replica@example.com")
    rid = request_id(card)

    opened = slack.home.publishes_for(DEMO_APPROVER)
    assert (await second.sender.open_home(DEMO_APPROVER)).status == 200
    await slack.wait_for(lambda: slack.home.publishes_for(DEMO_APPROVER) > opened)
    await slack.wait_for(lambda: shows(slack, DEMO_APPROVER, rid))

    clicked = await first.sender.click_home("Approve", user_id=DEMO_APPROVER, value=rid)
    assert clicked.status == 200
    await slack.wait_for(lambda: "Created user" in all_text(card.current))
    assert emulator.count("CreateUser") == 1
    await slack.wait_for(lambda: shows(slack, REQUESTER, "*Approved* by"))
    await slack.wait_for(lambda: not shows(slack, DEMO_APPROVER, rid))
