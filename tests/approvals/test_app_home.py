"""App Home end to end over signed HTTP: `app_home_opened` events signed as Slack signs them,
the tab published to the Slack stand-in (views.publish, checked as Slack checks home views),
and clicks built from the buttons the published tab actually carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from bot.approvals.home import MAX_REFRESH
from bot.cards.approval import ActionId
from bot.cards.home import MAX_DECIDABLE, MAX_RECENT
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import TEAM_ID, MethodFault, SlackStandIn, buttons
from bot.offline.standin_home import home_opened_event, view_button
from bot.offline.wiring import (
    DEMO_APPROVAL_CHANNEL,
    DEMO_APPROVER,
    BotProcess,
    OfflineBot,
    offline_bot,
)
from bot.store import InviteRequest, Move, Status, new_request_id
from tests.approvals.test_invite import (  # noqa: F401  (the bot fixture, reused)
    APPROVERS,
    ENTERPRISE,
    bot,
    click,
    dms_to,
    invite,
    only_request,
    settle,
    the_card,
)
from tests.blockkit import all_text, literal_problems
from tests.cards.test_cards_literal import PIECES
from tests.clock import VirtualClock
from tests.conftest import REQUESTER
from tests.store.test_store_contract import claim

APPROVER2 = APPROVERS[1]
STRANGER = "U0STRANGER"


async def open_home(bot: OfflineBot, user: str) -> dict[str, Any]:  # noqa: F811
    """`user` opens the Home tab; returns the view published for them."""
    before = bot.slack.home.publishes_for(user)
    exchange = await bot.sender.open_home(user)
    assert exchange.status == 200
    await bot.slack.wait_for(lambda: bot.slack.home.publishes_for(user) > before)
    await settle(bot)
    return bot.slack.home.views[user]


async def click_home(
    bot: OfflineBot,  # noqa: F811
    label: str,
    user: str,
    value: str | None = None,
    **kwargs: Any,
) -> None:
    exchange = await bot.sender.click_home(label, user_id=user, value=value, **kwargs)
    assert exchange.status == 200
    await settle(bot)


def home_text(view: dict[str, Any]) -> str:
    return all_text({"text": "", "blocks": view["blocks"]})


async def file_directly(bot: OfflineBot, n: int, **fields: Any) -> list[InviteRequest]:  # noqa: F811
    """`n` pending requests written straight to the bot's store (as other replicas would)."""
    now = bot.runtime.deps.clock.now()
    filed = []
    for i in range(n):
        values: dict[str, Any] = {
            "id": new_request_id(),
            "email": f"person{i}@example.com",
            "user_type": "PrivateUser",
            "reason": "",
            "account_id": ENTERPRISE,
            "account_name": "Example Corp",
            "account_type": "EnterpriseLWA",
            "requester": REQUESTER,
            "origin_channel": "C0DEMOCHAN",
            "created_at": now + i,
            "expires_at": now + 86_400,
            **fields,
        }
        filed.append(await bot.runtime.store.file(InviteRequest(**values), now=now + i))
    return filed


async def test_each_person_sees_what_concerns_them_and_nothing_else(bot: OfflineBot) -> None:  # noqa: F811
    await invite(bot, 'new.hire@example.com --account "Example Corp" starts Monday')
    request = await only_request(bot)
    card = the_card(bot)

    approver = await open_home(bot, DEMO_APPROVER)
    assert request.id in home_text(approver) and "starts Monday" in home_text(approver)
    on_card = {b["action_id"]: b for _, b in buttons(card.message)}
    in_home = {b["action_id"]: b for _, b in buttons({"blocks": approver["blocks"]})}
    assert in_home == on_card, "the same buttons as the card, confirm dialog included"
    assert approver["private_metadata"] == DEMO_APPROVER

    mine = await open_home(bot, REQUESTER)
    assert request.id in home_text(mine) and "Awaiting approval" in home_text(mine)
    assert buttons({"blocks": mine["blocks"]}) == [], "no one decides on their own request"

    stranger = await open_home(bot, STRANGER)
    assert request.id not in home_text(stranger) and "new.hire" not in home_text(stranger)
    assert buttons({"blocks": stranger["blocks"]}) == []
    assert "no Chime user requests" in home_text(stranger)


async def test_a_click_in_home_counts_like_one_on_the_card_exactly_once(bot: OfflineBot) -> None:  # noqa: F811
    await invite(bot, 'new.hire@example.com --account "Example Corp"')
    request = await only_request(bot)
    card = the_card(bot)
    stale = await open_home(bot, DEMO_APPROVER)

    await click_home(bot, "Approve", DEMO_APPROVER)
    # The card as first posted (an approver who had it open), clicked after the home click.
    late = await bot.sender.click(
        card.message, "Approve", user_id=APPROVER2, channel_id=card.channel
    )
    await settle(bot)
    assert "already decided" in all_text(bot.slack.responses[late.response_id][0])
    await click_home(bot, "Approve", DEMO_APPROVER, view=stale)  # as first shown, again

    assert bot.emulator is not None and bot.emulator.count("CreateUser") == 1
    assert "Approved" in all_text(card.current) and f"<@{DEMO_APPROVER}>" in all_text(card.current)
    assert buttons(card.current) == []
    (dm,) = dms_to(bot, REQUESTER)
    assert "approved" in all_text(dm).lower()
    # Refreshed after the decision, without anyone opening a tab again.
    assert request.id not in home_text(bot.slack.home.views[APPROVER2])
    assert "Approved" in home_text(bot.slack.home.views[REQUESTER])
    # The second home click was told why, at the top of the clicker's own tab.
    assert "already decided" in home_text(bot.slack.home.views[DEMO_APPROVER])


async def test_clicks_from_a_view_that_is_not_the_clickers_change_nothing(
    bot: OfflineBot,  # noqa: F811
) -> None:
    await invite(bot, 'new.hire@example.com --account "Example Corp"')
    request = await only_request(bot)
    theirs = await open_home(bot, DEMO_APPROVER)

    def forged_view_id(payload: dict[str, Any]) -> None:
        payload["container"]["view_id"] = "V0FORGED"

    def other_request(payload: dict[str, Any]) -> None:
        payload["actions"][0]["value"] = "REQ-AAAAAAAAAA"

    def claims_to_be_mine(payload: dict[str, Any]) -> None:
        payload["view"]["private_metadata"] = REQUESTER

    # Someone else's tab; a forged view id; a button the tab does not carry.
    await click_home(bot, "Approve", APPROVER2, view=theirs)
    await click_home(bot, "Approve", DEMO_APPROVER, alter=forged_view_id)
    await click_home(bot, "Approve", DEMO_APPROVER, alter=other_request)
    # The requester, from a tab that claims to be theirs: the home surface passes, may_decide
    # does not.
    await click_home(bot, "Deny", REQUESTER, view=theirs, alter=claims_to_be_mine)

    assert (await bot.runtime.store.get(request.id)).status == Status.PENDING  # type: ignore[union-attr]
    assert bot.emulator is not None and bot.emulator.count("CreateUser") == 0
    trail = await bot.runtime.store.audit_trail(request.id)
    refusals = [e.detail.get("reason", "") for e in trail if e.action == "refused"]
    assert len(refusals) == 3, "the click naming another request found none to refuse"
    assert "count only on its own approval card" in refusals[0] == refusals[1]
    assert "Only the approvers" in refusals[2]
    assert "can't decide" in home_text(bot.slack.home.views[REQUESTER])


async def test_refreshed_on_filing_and_decision_and_a_failing_publish_breaks_nothing(
    bot: OfflineBot,  # noqa: F811
) -> None:
    await invite(bot, 'first@example.com --account "Example Corp"')
    first = await only_request(bot)
    await settle(bot)
    for user in (REQUESTER, *APPROVERS):
        assert first.id in home_text(bot.slack.home.views[user]), f"{user}'s tab was refreshed"

    # Rate limited beyond the client's retry (after Retry-After, here 0 s): still nothing breaks.
    bot.slack.retry_after = 0
    bot.slack.method_faults["views.publish"] = MethodFault(error="ratelimited")
    assert await click(bot, the_card(bot), "Deny", APPROVER2) == []
    assert (await bot.runtime.store.get(first.id)).status == Status.DENIED  # type: ignore[union-attr]
    assert "Denied" in all_text(the_card(bot).current), "the card is updated all the same"
    assert len(dms_to(bot, REQUESTER)) == 1

    del bot.slack.method_faults["views.publish"]
    assert "Denied" in home_text(await open_home(bot, REQUESTER))


async def test_a_failed_request_offers_retry_in_home(bot: OfflineBot) -> None:  # noqa: F811
    assert bot.emulator is not None
    bot.emulator.inject("CreateUser", Fault("ServiceUnavailableException", times=-1))
    await invite(bot, 'new.hire@example.com --account "Example Corp"')
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    request = await only_request(bot)
    assert request.status == Status.FAILED

    view = await open_home(bot, APPROVER2)
    assert view_button(view, "Retry", request.id)["value"] == request.id
    bot.emulator.clear_faults()
    await click_home(bot, "Retry", APPROVER2, value=request.id)
    assert (await only_request(bot)).status == Status.APPROVED


async def test_over_a_hundred_requests_stay_within_slacks_limits(bot: OfflineBot) -> None:  # noqa: F811
    await file_directly(bot, 130)

    approver = await open_home(bot, DEMO_APPROVER)
    assert len(approver["blocks"]) <= 100
    approvals = [
        b for _, b in buttons({"blocks": approver["blocks"]}) if b["text"]["text"] == "Approve"
    ]
    assert len(approvals) == MAX_DECIDABLE
    assert f"and {130 - MAX_DECIDABLE} more" in home_text(approver)

    mine = await open_home(bot, REQUESTER)
    assert len(mine["blocks"]) <= 100
    assert home_text(mine).count("person") == MAX_RECENT
    assert "person129@example.com" in home_text(mine), "the newest first"


async def test_hostile_strings_in_requests_are_shown_literally(bot: OfflineBot) -> None:  # noqa: F811
    text = "".join(p for p in PIECES if p != "\ud800")  # a lone surrogate cannot be stored
    await file_directly(bot, 1, reason=text * 3, account_name=text)
    await file_directly(bot, 1, email="a<!channel>@x.co", reason="<@U0BOSS> *Approved*")

    for user in (DEMO_APPROVER, REQUESTER):
        view = await open_home(bot, user)
        assert literal_problems({"text": "home", "blocks": view["blocks"]}) == []
        mrkdwn = json.dumps([b for b in view["blocks"] if b.get("type") == "context"])
        assert "U0BOSS" not in mrkdwn and "evil" not in mrkdwn and "!channel" not in mrkdwn


async def test_the_messages_tab_and_malformed_events_publish_nothing(bot: OfflineBot) -> None:  # noqa: F811
    body = {
        "type": "event_callback",
        "team_id": "T0CHIMEBOT",
        "event": {"type": "app_home_opened", "user": REQUESTER, "tab": "messages"},
    }
    assert (await bot.sender.event(body)).status == 200
    for event in (
        {"type": "app_home_opened", "user": "<@U0BOSS>", "tab": "home"},
        {"type": "app_home_opened", "tab": "home"},
        {"type": "app_home_opened", "user": REQUESTER, "tab": ["home"]},
    ):
        assert (await bot.sender.event({**body, "event": event})).status == 400
    await settle(bot)
    assert bot.slack.calls_to("views.publish") == []
    assert DEMO_APPROVAL_CHANNEL not in bot.slack.home.views


async def test_socket_mode_publishes_the_home_tab_too(
    peers: tuple[ChimeEmulator, SlackStandIn], session: ClientSession, tmp_path: Path
) -> None:
    emulator, slack = peers
    process = await BotProcess(
        emulator.url,
        slack,
        tmp_path / "state.db",
        session,
        SLACK_APP_TOKEN="xapp-1-A0CHIMEBOT-socket",
    ).start()
    try:
        await slack.wait_connected()
        ack = await process.sender.socket_event(home_opened_event(TEAM_ID, STRANGER, None))
        assert "envelope_id" in ack
        await slack.wait_for(lambda: STRANGER in slack.home.views)
        assert "no Chime user requests" in home_text(slack.home.views[STRANGER])
    finally:
        await process.stop()


async def test_a_change_refreshes_a_bounded_number_of_tabs(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    slack = SlackStandIn()
    members = [f"U0M{i:03d}" for i in range(40)]
    slack.usergroups["S0BIG"] = members
    overrides: dict[str, object] = {"chime_approvers": "S0BIG"}
    async with offline_bot(overrides, emulator=emulator, slack=slack, clock=clock) as big:
        await invite(big, 'new.hire@example.com --account "Example Corp"')
        await settle(big)
        published = [c.args["user_id"] for c in slack.calls_to("views.publish")]
        assert sorted(published) == sorted([REQUESTER, *members[:MAX_REFRESH]])
        # Anyone past the bound sees it when they open the tab.
        request = await only_request(big)
        assert request.id in home_text(await open_home(big, members[-1]))


async def test_expiry_refreshes_the_tabs_it_concerns(bot: OfflineBot, clock: VirtualClock) -> None:  # noqa: F811
    await invite(bot, 'new.hire@example.com --account "Example Corp"')
    request = await only_request(bot)
    await settle(bot)
    assert request.id in home_text(bot.slack.home.views[APPROVER2])

    clock.advance(86_400 + 1)
    await bot.runtime.sweep_once()
    await settle(bot)

    assert "*Expired*" in json.dumps(bot.slack.home.views[REQUESTER]["blocks"])
    assert request.id not in home_text(bot.slack.home.views[APPROVER2])


async def test_a_request_whose_card_could_not_be_posted_shows_as_not_filed(
    bot: OfflineBot,  # noqa: F811
) -> None:
    bot.slack.refuse_posts_to.add(DEMO_APPROVAL_CHANNEL)
    note = await invite(bot, 'new.hire@example.com --account "Example Corp"')
    assert "not filed" in all_text(note).lower()
    mine = home_text(await open_home(bot, REQUESTER))
    assert "Not filed" in mine and "Denied by" not in mine
    assert "Nothing is waiting" in home_text(await open_home(bot, DEMO_APPROVER))


async def test_the_widest_tab_fits_slacks_limits(bot: OfflineBot) -> None:  # noqa: F811
    """Every field at its limit, in three-byte characters, for as many requests as a tab shows
    (and more): Slack still takes the view (100 blocks, 250 kB)."""
    store, now = bot.runtime.store, bot.runtime.deps.clock.now()
    for i in range(MAX_DECIDABLE + 5):
        (request,) = await file_directly(
            bot, 1, email=f"{'€' * 240}{i}@x.co", reason="€" * 500, account_name="€" * 100
        )
        assert (await claim(store, request.id, APPROVER2, now=now)).ok
        failed = await store.transition(
            request.id, Move.finish(Status.FAILED, APPROVER2, now, error="€" * 3000)
        )
        assert failed.ok

    for user in (DEMO_APPROVER, REQUESTER):
        view = await open_home(bot, user)  # published: Slack's checks passed
        assert len(json.dumps(view["blocks"], ensure_ascii=False).encode()) < 150_000
    retries = buttons({"blocks": bot.slack.home.views[DEMO_APPROVER]["blocks"]})
    assert len(retries) == MAX_DECIDABLE


async def test_a_bulk_invite_is_listed_once_and_approved_from_home_as_a_whole(
    bot: OfflineBot,  # noqa: F811
    emulator: ChimeEmulator,
) -> None:
    emails = [f"bulk{i}@new.example.org" for i in range(4)]
    await invite(bot, " ".join(emails) + ' --account "Example Team"')
    card = the_card(bot)
    lead = next(
        r for r in await bot.runtime.store.list_by_status(Status.PENDING) if r.batch_id == r.id
    )
    # Published for the requester at filing, without their opening the tab.
    await bot.slack.wait_for(lambda: bot.slack.home.publishes_for(REQUESTER) > 0)

    approver = await open_home(bot, DEMO_APPROVER)
    in_home = buttons({"blocks": approver["blocks"]})
    assert {b["value"] for _, b in in_home} == {lead.id}, "one entry, by the request it names"
    assert len([b for _, b in in_home if b["action_id"] == ActionId.APPROVE]) == 1
    assert "and 3 more addresses (bulk invite" in home_text(approver)

    await click_home(bot, "Approve", DEMO_APPROVER, value=lead.id)
    await bot.slack.wait_for(lambda: emulator.count("InviteUsers") == 1)
    assert {r.status for r in await bot.runtime.store.list_by_status(Status.APPROVED)} == {
        Status.APPROVED
    }
    assert len(await bot.runtime.store.list_by_status(Status.APPROVED)) == 4
    assert "Approve all" not in all_text(card.current)


async def test_a_request_you_approved_waits_for_another_approver_without_buttons(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    """Under the two-person rule, your approval is in: the tab lists the request as waiting
    for another approver, with no Approve for you; the other approvers still get it to decide."""
    overrides = {"chime_approvers": ",".join(APPROVERS), "chime_approvals_required": 2}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as two:
        await invite(two, 'pair@example.com --account "Example Corp" two keys')
        request = await only_request(two)
        await click(two, the_card(two), "Approve", DEMO_APPROVER)

        mine = await open_home(two, DEMO_APPROVER)
        text = home_text(mine)
        assert "Waiting for another approver (1)" in text and request.id in text
        assert "you approved; waiting for one more approver" in text
        assert "Waiting for your decision" not in text
        assert buttons({"blocks": mine["blocks"]}) == [], "no Approve (or Deny) for you"

        theirs = await open_home(two, APPROVER2)
        assert "Waiting for your decision (1)" in home_text(theirs)
        assert "Waiting for another approver" not in home_text(theirs)
        await click_home(two, "Approve", APPROVER2, value=request.id)
        assert emulator.count("CreateUser") == 1
        assert (await only_request(two)).status == Status.APPROVED


async def test_a_bulk_invites_confirm_dialog_in_home_is_its_cards(bot: OfflineBot) -> None:  # noqa: F811
    """The click in Home approves every address, so its dialog says so, in the card's words."""
    emails = [f"many{i}@new.example.org" for i in range(3)]
    await invite(bot, " ".join(emails) + ' --account "Example Corp"')
    on_card = next(
        b for _, b in buttons(the_card(bot).message) if b["action_id"] == "chime_approve"
    )

    approver = await open_home(bot, DEMO_APPROVER)
    (in_home,) = [
        b for _, b in buttons({"blocks": approver["blocks"]}) if b["action_id"] == "chime_approve"
    ]

    assert in_home["confirm"] == on_card["confirm"]
    said = in_home["confirm"]["text"]["text"]
    assert said == "This will create 3 addresses in Example Corp, each once."
    assert all(email not in said for email in emails)


# ---- Slack's rate limits ----------------------------------------------------------------------


def most_in_a_minute(times: list[float]) -> int:
    """The most of `times` within any 60 seconds."""
    times = sorted(times)
    return max(
        (sum(1 for t in times[i:] if t < start + 60) for i, start in enumerate(times)), default=0
    )


async def test_many_changes_publish_within_views_publish_rate(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    """Each change republishes up to 26 tabs; views.publish takes about 100 a minute (Tier 4).
    Five requests filed back to back would be 130 publishes at once: they are paced (on the
    bot's clock, which the stand-in stamps publishes with) and a tab already due is published
    once for every change waiting on it, and each tab still ends showing every request."""
    slack = SlackStandIn()
    slack.use_clock(clock.monotonic)
    approvers = [f"U0A{i:03d}" for i in range(30)]
    overrides: dict[str, object] = {"chime_approvers": ",".join(approvers)}
    async with offline_bot(overrides, emulator=emulator, slack=slack, clock=clock) as many:
        for n in range(5):
            await invite(many, f'n{n}@example.com --account "Example Corp"')
        await settle(many)
        assert most_in_a_minute(slack.home.published_at) <= 100, "within Slack's limit"
        assert len(slack.home.published) <= 5 * (1 + MAX_REFRESH)
        ids = [r.id for r in await many.runtime.deps.approvals.open_requests()]
        assert len(ids) == 5
        for user in (REQUESTER, *sorted(approvers)[:MAX_REFRESH]):
            shown = home_text(slack.home.views[user])
            assert all(i in shown for i in ids), f"{user}'s tab shows the last change"


async def test_a_rate_limited_publish_is_sent_again_after_retry_after(bot: OfflineBot) -> None:  # noqa: F811
    """slack_sdk's rate-limit handler: a 429 (with Retry-After, here 0 s) is tried again."""
    bot.slack.retry_after = 0
    bot.slack.method_faults["views.publish"] = MethodFault(error="ratelimited", times=1)
    await invite(bot, 'again@example.com --account "Example Corp"')
    request = await only_request(bot)
    await settle(bot)
    attempts = [c for c in bot.slack.attempts if c.method == "views.publish"]
    assert len(attempts) == len(bot.slack.calls_to("views.publish")) + 1, "one 429, then sent"
    for user in (REQUESTER, *APPROVERS):
        assert request.id in home_text(bot.slack.home.views[user]), user
