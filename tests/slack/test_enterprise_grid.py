"""Enterprise Grid, installed org-wide (manifest.org.yml): Grid-shaped payloads and events are
signed, routed and answered like any other; with an org-wide token the bot names the group's
team on usergroups.users.list, which the Slack stand-in requires as Slack does; users and
channels of other workspaces of the organization work as approvers and request channels.

The payloads follow Slack's reference for org-wide apps (api.slack.com/enterprise/apps/
reference: the event wrapper with `authorizations[0]` holding `enterprise_id`, `team_id` and
`is_enterprise_install`) and Slack's own Bolt types (slackapi/bolt-js src/types/shortcuts/
global-shortcut.ts: "team is null for org apps shortcut payload", `user.team_id`,
`is_enterprise_install`, `enterprise: {id, name}`; bolt-python's `extract_team_id`: "With
org-wide installations, payload.team in interactivity payloads can be None").
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.form import SHORTCUT_ID, Field
from bot.config.settings import ConfigError, load_settings
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import TEAM_ID, SlackStandIn
from bot.offline.standin_home import home_opened_event
from bot.offline.standin_views import shortcut_payload
from bot.offline.wiring import OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import click, invite, only_request, settle, the_card
from tests.approvals.test_request_form import fields, the_form
from tests.blockkit import all_text
from tests.cli import offline_env
from tests.clock import VirtualClock
from tests.conftest import CHANNEL
from tests.ops.test_check import run_check
from tests.web.test_http_door import signed_post

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

ORG = "E0GRIDORG"  # the organization
OTHER_WS = "T0OTHERWS"  # a second workspace of it; the stand-in's own is TEAM_ID
REQUESTER = "W0GRIDREQ"  # org-wide users have W... IDs, the same in every workspace
APPROVER = "W0APPROVERB"  # an approver whose home workspace is OTHER_WS
GROUP = "S0GRIDADMINS"
LIST = "usergroups.users.list"
ACCOUNT = '--account "Example Corp"'


def enterprise_block() -> dict[str, Any]:
    return {"id": ORG, "name": "Grid Org"}


def org_shortcut(trigger: str) -> dict[str, Any]:
    """A global shortcut to an org-wide app: `team` is null, the user names their workspace."""
    payload = shortcut_payload(SHORTCUT_ID, REQUESTER, TEAM_ID, trigger)
    payload.update(team=None, is_enterprise_install=True, enterprise=enterprise_block())
    return payload


def org_click(team: str) -> Any:
    """A click from a workspace of the organization: `team` carries `enterprise_id` and
    `enterprise_name`, beside the `enterprise` object and `is_enterprise_install`."""

    def alter(payload: dict[str, Any]) -> None:
        payload["team"] = {
            "id": team,
            "domain": team.lower(),
            "enterprise_id": ORG,
            "enterprise_name": "Grid Org",
        }
        payload["user"]["team_id"] = team
        payload["enterprise"] = enterprise_block()
        payload["is_enterprise_install"] = True

    return alter


def org_event(event: dict[str, Any], team_id: str | None) -> dict[str, Any]:
    """The Events API wrapper of the reference's sample for org-wide apps."""
    body = {
        "token": "deprecated-verification-token",
        "is_ext_shared_channel": False,
        "team_id": team_id,
        "enterprise_id": ORG,
        "api_app_id": "A0CHIMEBOT",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0GRID0001",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": ORG,
                "team_id": team_id,
                "user_id": "W0CHIMEBOT",
                "is_bot": True,
                "is_enterprise_install": True,
            }
        ],
    }
    return body


def org_slack() -> SlackStandIn:
    """The stand-in as an org-wide install of ORG, with an org-level approver group."""
    slack = SlackStandIn()
    slack.enterprise_id = ORG
    slack.usergroups[GROUP] = [APPROVER]
    slack.usergroup_teams[GROUP] = ORG
    return slack


@pytest.fixture
async def grid_bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {"chime_approvers": GROUP, "chime_group_cache_ttl": 60.0}
    async with offline_bot(overrides, emulator=emulator, clock=clock, slack=org_slack()) as bot:
        yield bot


# ---- payloads and events at the door ----------------------------------------------------------


async def test_an_org_wide_shortcut_with_team_null_files_and_another_workspace_approves(
    grid_bot: OfflineBot,
) -> None:
    bot = grid_bot
    trigger = bot.slack.views.issue_trigger(REQUESTER)
    body = urlencode({"payload": json.dumps(org_shortcut(trigger))}).encode()
    assert await signed_post(bot, body) == 200
    await settle(bot)
    form = the_form(bot, REQUESTER)

    def from_the_org(payload: dict[str, Any]) -> None:
        payload.update(team=None, is_enterprise_install=True, enterprise=enterprise_block())

    values = {**fields("grid.hire@example.com"), Field.CHANNEL: CHANNEL}
    filed = await bot.sender.submit(form.id, values, user_id=REQUESTER, alter=from_the_org)
    assert filed.status == 200 and filed.ack is None
    await settle(bot)
    request = await only_request(bot)
    assert request.requester == REQUESTER and request.origin_channel == CHANNEL
    # Org-wide: the group is read in the organization it lives in.
    assert [c.args.get("team_id") for c in bot.slack.calls_to(LIST)] == [ORG]

    card = the_card(bot)
    exchange = await bot.sender.click(
        card.current,
        "Approve",
        user_id=APPROVER,
        channel_id=card.channel,
        alter=org_click(OTHER_WS),
    )
    assert exchange.status == 200
    await settle(bot)
    assert bot.slack.responses[exchange.response_id] == []
    assert bot.emulator is not None and bot.emulator.count("CreateUser") == 1
    decided = await only_request(bot)
    assert decided.status == Status.APPROVED and decided.decided_by == APPROVER
    assert f"<@{APPROVER}>" in all_text(card.current)


@pytest.mark.parametrize("team_id", [TEAM_ID, ORG, None], ids=["workspace", "org", "null"])
async def test_grid_events_are_taken_and_acted_on(
    grid_bot: OfflineBot, clock: VirtualClock, team_id: str | None
) -> None:
    bot = grid_bot
    await invite(bot, f"a@example.com {ACCOUNT}", user=REQUESTER)
    assert len(bot.slack.calls_to(LIST)) == 1
    bot.slack.usergroups[GROUP] = []  # the approver leaves the org-level group
    changed = {"type": "subteam_members_changed", "subteam_id": GROUP, "team_id": ORG}
    exchange = await bot.sender.event(org_event(changed, team_id))
    assert exchange.status == 200
    await settle(bot)
    # Forgotten at the event, well inside the cache's TTL: the click reads the group again.
    refused = await click(bot, the_card(bot), "Approve", APPROVER)
    assert len(bot.slack.calls_to(LIST)) == 2
    assert refused and bot.emulator is not None and bot.emulator.count("CreateUser") == 0

    opened = home_opened_event(TEAM_ID, REQUESTER, None)
    opened["team_id"] = team_id
    exchange = await bot.sender.event({**org_event(opened["event"], team_id)})
    assert exchange.status == 200
    await settle(bot)
    assert REQUESTER in bot.slack.home.views


@pytest.mark.parametrize(
    "payload",
    [
        # Nowhere at all: no team, no user's team, no organization.
        {"team": None, "user": {"id": REQUESTER}, "enterprise": None},
        # An "organization" that is not an E... ID.
        {"team": None, "user": {"id": REQUESTER}, "enterprise": {"id": "T0NOTANORG"}},
    ],
)
async def test_a_payload_placed_nowhere_is_still_refused(
    grid_bot: OfflineBot, payload: dict[str, Any]
) -> None:
    trigger = grid_bot.slack.views.issue_trigger(REQUESTER)
    body = urlencode({"payload": json.dumps({**org_shortcut(trigger), **payload})}).encode()
    assert await signed_post(grid_bot, body) == 400
    assert not grid_bot.slack.calls_to("views.open")


async def test_an_event_placed_nowhere_is_still_refused(grid_bot: OfflineBot) -> None:
    changed = {"type": "subteam_members_changed", "subteam_id": GROUP}
    body = {**org_event(changed, None), "enterprise_id": None, "authorizations": []}
    assert (await grid_bot.sender.event(body)).status == 400


# ---- usergroups.users.list with an org-wide token ----------------------------------------------


@pytest.mark.parametrize("auth_team_is_org", [True, False], ids=["auth-team-E", "auth-team-T"])
async def test_the_org_token_reads_groups_in_the_organization(
    emulator: ChimeEmulator, auth_team_is_org: bool
) -> None:
    slack = org_slack()
    slack.org_team_is_enterprise = auth_team_is_org
    overrides: dict[str, object] = {"chime_approvers": GROUP}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        assert bot.runtime.slack_auth.org_install
        await invite(bot, f"b@example.com {ACCOUNT}", user=REQUESTER)
        assert await click(bot, the_card(bot), "Approve", APPROVER) == []
        assert emulator.count("CreateUser") == 1
        assert {c.args.get("team_id") for c in slack.calls_to(LIST)} == {ORG}


async def test_slack_groups_team_id_names_the_groups_workspace(emulator: ChimeEmulator) -> None:
    slack = org_slack()
    slack.usergroup_teams[GROUP] = OTHER_WS
    overrides: dict[str, object] = {"chime_approvers": GROUP, "slack_groups_team_id": OTHER_WS}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        await invite(bot, f"c@example.com {ACCOUNT}", user=REQUESTER)
        assert await click(bot, the_card(bot), "Approve", APPROVER) == []
        assert emulator.count("CreateUser") == 1
        assert [c.args.get("team_id") for c in slack.calls_to(LIST)] == [OTHER_WS]


async def test_a_group_in_a_workspace_not_named_fails_closed_and_says_what_to_set(
    emulator: ChimeEmulator,
) -> None:
    slack = org_slack()
    slack.usergroup_teams[GROUP] = OTHER_WS  # but SLACK_GROUPS_TEAM_ID is not set
    async with offline_bot({"chime_approvers": GROUP}, emulator=emulator, slack=slack) as bot:
        # Filing reads the group to know someone can approve: it cannot, so nothing is filed.
        note = await invite(bot, f"d@example.com {ACCOUNT}", user=REQUESTER)
        assert "no user group with that ID" in all_text(note)
        assert "SLACK_GROUPS_TEAM_ID" in all_text(note)
        assert not await bot.runtime.deps.approvals.open_requests()
        assert emulator.count("CreateUser") == 0


async def test_a_workspace_token_names_no_team(emulator: ChimeEmulator) -> None:
    slack = SlackStandIn()
    slack.usergroups[GROUP] = [APPROVER]
    overrides: dict[str, object] = {"chime_approvers": GROUP, "slack_groups_team_id": OTHER_WS}
    async with offline_bot(overrides, emulator=emulator, slack=slack) as bot:
        assert not bot.runtime.slack_auth.org_install
        await invite(bot, f"e@example.com {ACCOUNT}", user=REQUESTER)
        assert await click(bot, the_card(bot), "Approve", APPROVER) == []
        assert [c.args.get("team_id") for c in slack.calls_to(LIST)] == [None]


async def test_the_standin_holds_an_org_token_to_a_team_as_slack_does() -> None:
    slack = org_slack()
    await slack.start()
    try:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        answer = await client.auth_test()
        assert answer["is_enterprise_install"] is True and answer["enterprise_id"] == ORG
        with pytest.raises(SlackApiError) as missing:
            await client.usergroups_users_list(usergroup=GROUP)
        assert missing.value.response["error"] == "missing_argument"
        with pytest.raises(SlackApiError) as elsewhere:
            await client.usergroups_users_list(usergroup=GROUP, team_id=OTHER_WS)
        assert elsewhere.value.response["error"] == "no_such_subteam"
        found = await client.usergroups_users_list(usergroup=GROUP, team_id=ORG)
        assert found["users"] == [APPROVER]
        # A workspace token: team_id "will be ignored".
        slack.enterprise_id = None
        ignored = await client.usergroups_users_list(usergroup=GROUP, team_id=OTHER_WS)
        assert ignored["users"] == [APPROVER]
    finally:
        await slack.stop()


def test_slack_groups_team_id_takes_only_a_workspace_or_organization_id() -> None:
    assert load_settings("demo", slack_groups_team_id=f" {ORG} ").slack_groups_team_id == ORG
    assert load_settings("demo", slack_groups_team_id="").slack_groups_team_id is None
    for bad in ("S0GROUP", "t0lower", "T0 X"):
        with pytest.raises(ConfigError) as refused:
            load_settings("demo", slack_groups_team_id=bad)
        (problem,) = refused.value.problems
        assert problem.startswith("SLACK_GROUPS_TEAM_ID:") and "T0123ABCD or E0123ABCD" in problem


async def test_check_reads_the_groups_as_serve_does_with_an_org_token(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Any
) -> None:
    emulator, slack = peers
    slack.enterprise_id = ORG
    slack.usergroups[GROUP] = [APPROVER]
    slack.usergroup_teams[GROUP] = OTHER_WS
    env = offline_env(
        slack,
        emulator,
        tmp_path,
        CHIME_APPROVERS=GROUP,
        CHIME_APPROVAL_CHANNEL="",
        CHIME_DEFAULT_ACCOUNT="",
        SLACK_GROUPS_TEAM_ID=OTHER_WS,
        AWS_ENDPOINT_URL_STS=moto_dynamo.url,
    )
    checked = await run_check(env)
    assert checked.line(f"Approver group {GROUP}").startswith("✓"), checked.out
    assert APPROVER in checked.line("Approvers now")
    assert [c.args.get("team_id") for c in slack.calls_to(LIST)] == [OTHER_WS]
