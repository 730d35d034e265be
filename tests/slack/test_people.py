"""Who is who in Slack (issue 21): bot/slack/people.py against the Slack stand-in over real HTTP,
through the Web API client the bot builds (bot/app.py: 429s retried once after Retry-After).

"No such person" is None; "Slack could not say" is PeopleUnknown, so callers can fail closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_web_client
from bot.offline.demo_groups import DEMO_GROUP_PEOPLE
from bot.offline.emulator.state import load_bundled_seed
from bot.offline.slack_standin import BOT_USER_ID, MANIFEST_SCOPES, MethodFault, SlackStandIn
from bot.offline.standin_people import SLACKBOT_ID, Person
from bot.offline.wiring import DEMO_PEOPLE, DEMO_REQUESTER, offline_bot, offline_settings
from bot.slack.people import People, PeopleUnknown

ADA, GONE, ROBOT = "U0ADA", "U0GONE", "U0ROBOT"
INFO, LOOKUP = "users.info", "users.lookupByEmail"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = SlackStandIn()
    standin.retry_after = 0  # Retry-After: 0, so the bot's one retry of a 429 comes at once
    standin.people.by_id.update(
        {
            ADA: Person("ada@example.com", "Ada Lovelace"),
            GONE: Person("gone@example.com", "Left Us", deleted=True),
            # A bot user given an address, so only `is_bot` can keep it out.
            ROBOT: Person("robot@example.com", "Robot", is_bot=True),
        }
    )
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


def client_for(slack: SlackStandIn) -> AsyncWebClient:
    return build_web_client(offline_settings(slack.api_url, slack.bot_token, "secret"))


@pytest.fixture
def people(slack: SlackStandIn) -> People:
    return People(client_for(slack))


async def test_a_persons_email_and_user_id_are_found(people: People) -> None:
    assert await people.email_of(ADA) == "ada@example.com"
    assert await people.user_by_email("ada@example.com") == ADA


async def test_no_such_person_is_none(people: People, slack: SlackStandIn) -> None:
    assert await people.email_of("U0NOBODY") is None
    assert await people.user_by_email("nobody@example.com") is None
    assert await people.email_of("not an id") is None
    assert await people.user_by_email("") is None
    # A user Slack knows without an address it shows (an external user) has none.
    slack.users.add("U0EXTERNAL")
    assert await people.email_of("U0EXTERNAL") is None


@pytest.mark.parametrize("ignores_case", [True, False], ids=["slack-ignores-case", "exact-case"])
async def test_an_email_is_found_whatever_its_case(
    people: People, slack: SlackStandIn, ignores_case: bool
) -> None:
    """The reference does not say whether the lookup minds case; under either answer a
    differently cased address of a lowercase-registered person finds them."""
    slack.people.lookup_ignores_case = ignores_case
    assert await people.user_by_email("Ada@Example.COM") == ADA
    assert await people.user_by_email(" ADA@example.com ") == ADA


@pytest.mark.parametrize("finds_deleted", [False, True], ids=["users_not_found", "returned"])
async def test_a_deactivated_user_is_no_one(
    people: People, slack: SlackStandIn, finds_deleted: bool
) -> None:
    slack.people.lookup_finds_deleted = finds_deleted
    assert await people.email_of(GONE) is None
    assert await people.user_by_email("gone@example.com") is None


async def test_a_bot_user_is_no_one(people: People, slack: SlackStandIn) -> None:
    assert await people.email_of(ROBOT) is None
    assert await people.user_by_email("robot@example.com") is None
    assert await people.email_of(BOT_USER_ID) is None
    # Slackbot is not `is_bot` in Slack's answers, and is no one all the same.
    slack.people.by_id[SLACKBOT_ID] = Person("slackbot@example.com", "Slackbot")
    assert await people.email_of(SLACKBOT_ID) is None
    assert await people.user_by_email("slackbot@example.com") is None


async def test_a_missing_scope_is_unknown_not_no_one(people: People, slack: SlackStandIn) -> None:
    slack.scopes = tuple(s for s in MANIFEST_SCOPES if s != "users:read.email")
    with pytest.raises(PeopleUnknown, match=r"users:read\.email"):
        await people.email_of(ADA)  # answered, but without the address
    with pytest.raises(PeopleUnknown, match=r"users:read\.email"):
        await people.user_by_email("ada@example.com")
    slack.scopes = tuple(s for s in MANIFEST_SCOPES if not s.startswith("users:"))
    with pytest.raises(PeopleUnknown, match="users:read"):
        await people.email_of(ADA)


@pytest.mark.parametrize("method", [INFO, LOOKUP])
async def test_a_rate_limit_is_retried_once_then_unknown(
    people: People, slack: SlackStandIn, method: str
) -> None:
    async def ask() -> str | None:
        if method == INFO:
            return await people.email_of(ADA)
        return await people.user_by_email("ada@example.com")

    slack.method_faults[method] = MethodFault(error="ratelimited")
    with pytest.raises(PeopleUnknown, match="limiting"):
        await ask()
    assert [a.method for a in slack.attempts] == [method, method]
    slack.method_faults[method] = MethodFault(error="ratelimited", times=1)
    assert await ask() in ("ada@example.com", ADA)


@pytest.mark.parametrize(
    "fault",
    [MethodFault(status=502), MethodFault(error="internal_error"), MethodFault(delay=2.0)],
    ids=["proxy-502", "internal_error", "no-answer-in-time"],
)
async def test_slack_failing_is_unknown(slack: SlackStandIn, fault: MethodFault) -> None:
    people = People(client_for(slack), timeout=0.5)
    slack.method_faults[INFO] = fault
    slack.method_faults[LOOKUP] = fault
    with pytest.raises(PeopleUnknown):
        await people.email_of(ADA)
    with pytest.raises(PeopleUnknown):
        await people.user_by_email("ada@example.com")


async def test_slack_unreachable_is_unknown(slack: SlackStandIn) -> None:
    people = People(client_for(slack))
    await slack.stop()
    with pytest.raises(PeopleUnknown, match="reached"):
        await people.email_of(ADA)
    with pytest.raises(PeopleUnknown, match="reached"):
        await people.user_by_email("ada@example.com")


async def test_the_standin_answers_as_slacks_reference_says(slack: SlackStandIn) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    user: dict[str, Any] = (await client.users_info(user=ADA))["user"]
    assert user["id"] == ADA and user["deleted"] is False and user["is_bot"] is False
    assert user["profile"]["email"] == "ada@example.com"
    assert (await client.users_info(user=GONE))["user"]["deleted"] is True
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"
    # "If the user has been deactivated, users_not_found will be returned" (lookupByEmail).
    with pytest.raises(SlackApiError) as deleted:
        await client.users_lookupByEmail(email="gone@example.com")
    assert deleted.value.response["error"] == "users_not_found"
    slack.scopes = ("users:read",)
    answer = await client.users_info(user=ADA)
    assert "email" not in answer["user"]["profile"]
    with pytest.raises(SlackApiError) as scope:
        await client.users_lookupByEmail(email="ada@example.com")
    assert scope.value.response["error"] == "missing_scope"
    assert scope.value.response["needed"] == "users:read.email"


async def test_the_demo_people_are_chime_users_of_the_emulator() -> None:
    """The console's and demo's requester has the address of a Chime user the emulator seeds,
    so looking them up finds someone on both sides."""
    chime = {u["PrimaryEmail"] for a in load_bundled_seed()["accounts"] for u in a["users"]}
    everyone = {**DEMO_PEOPLE, **DEMO_GROUP_PEOPLE}
    assert everyone and all(p.email in chime for p in everyone.values())
    async with offline_bot() as bot:
        people = People(client_for(bot.slack))
        email = await people.email_of(DEMO_REQUESTER)
        assert email is not None and email in chime
        assert await people.user_by_email(email) == DEMO_REQUESTER
