"""Team-account invitations: each invite's Status and EmailStatus decide the outcome.

The botocore model allows Invite.Status Pending|Accepted|Failed and EmailStatus
NotSent|Sent|Failed; the emulator can be told to answer any of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import buttons
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store import Status
from tests.approvals.test_invite import APPROVERS, click, dms_to, invite, only_request, the_card
from tests.blockkit import all_text, assert_valid_message
from tests.clock import VirtualClock
from tests.conftest import REQUESTER

EMAIL = "pat@example.org"


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> AsyncIterator[OfflineBot]:
    overrides: dict[str, object] = {
        "chime_approvers": ",".join(APPROVERS),
        "chime_retry_budget": 2.0,
    }
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


@pytest.mark.parametrize("keeps_user", [False, True], ids=["no-user-left", "failed-user-left"])
async def test_failed_invitation_fails_the_request_and_retry_invites_again(
    bot: OfflineBot, keeps_user: bool
) -> None:
    await invite(bot, f'{EMAIL} --account "Example Team"')
    card = the_card(bot)
    bot.emulator.set_invite_outcome(
        EMAIL, status="Failed", email_status="Failed", keeps_user=keeps_user
    )

    await click(bot, card, "Approve", DEMO_APPROVER)

    request = await only_request(bot)
    assert request.status == Status.FAILED
    assert "invitation failed" in (request.error or "")
    failed = card.current
    assert_valid_message(failed)
    text = all_text(failed)
    assert "Failed" in text and "invitation failed" in text
    assert "Approved" not in text and "Invitation sent" not in text
    assert [b["text"]["text"] for _, b in buttons(failed)] == ["Retry"]
    (dm,) = dms_to(bot, REQUESTER)
    assert "invitation failed" in all_text(dm)
    trail = await bot.runtime.store.audit_trail(request.id)
    (event,) = [e for e in trail if e.action == "failed"]
    assert "invitation failed" in event.detail["error"]
    assert "Failed" in event.detail["error"]

    bot.emulator.clear_invite_outcomes()
    await click(bot, card, "Retry", "U0APPROVER2")
    assert bot.emulator.count("InviteUsers") == 2, "a failed invitation is sent again"
    request = await only_request(bot)
    assert request.status == Status.APPROVED
    assert "Invitation sent: status Pending" in all_text(card.current)


async def test_failed_invitation_email_fails_the_request(bot: OfflineBot) -> None:
    await invite(bot, f'{EMAIL} --account "Example Team"')
    bot.emulator.set_invite_outcome(EMAIL, status="Pending", email_status="Failed")
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    request = await only_request(bot)
    assert request.status == Status.FAILED
    assert "could not send the invitation email" in (request.error or "")


async def test_unsent_invitation_email_is_not_called_sent(bot: OfflineBot) -> None:
    await invite(bot, f'{EMAIL} --account "Example Team"')
    bot.emulator.set_invite_outcome(EMAIL, status="Pending", email_status="NotSent")
    card = the_card(bot)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert (await only_request(bot)).status == Status.APPROVED
    text = all_text(card.current)
    assert "Invitation sent" not in text
    assert "NotSent" in text


async def test_sent_invitation_says_sent(bot: OfflineBot) -> None:
    await invite(bot, f'{EMAIL} --account "Example Team"')
    card = the_card(bot)
    await click(bot, card, "Approve", DEMO_APPROVER)
    request = await only_request(bot)
    assert request.status == Status.APPROVED and request.result is not None
    assert request.result["email_status"] == "Sent"
    assert "Invitation sent: status Pending" in all_text(card.current)
    (dm,) = dms_to(bot, REQUESTER)
    assert "Invitation sent" in all_text(dm)


async def test_accepted_invitation_is_not_called_sent(bot: OfflineBot) -> None:
    await invite(bot, f'{EMAIL} --account "Example Team"')
    bot.emulator.set_invite_outcome(EMAIL, status="Accepted", email_status="NotSent")
    card = the_card(bot)
    await click(bot, card, "Approve", DEMO_APPROVER)
    assert (await only_request(bot)).status == Status.APPROVED
    text = all_text(card.current)
    assert "Invitation already accepted" in text and "Invitation sent" not in text
