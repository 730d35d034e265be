"""`/chime user` shows a suspended user plainly: signed HTTP in, the emulator's user suspended by
a real BatchSuspendUser sent with boto3 over HTTP, the card out via response_url."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import OfflineBot
from tests.blockkit import all_text, assert_valid_message
from tests.chime.test_user_lookup import lookup
from tests.offline.test_emulator import ADA, CORP, TEAM, make_client

LINUS = "a0000000-5e3d-4b8a-9f21-000000000101"


@pytest.fixture
def chime(emulator: ChimeEmulator, bot: OfflineBot) -> Iterator[BaseClient]:
    client = make_client(boto3.session.Session(), emulator.url)
    yield client
    client.close()


async def suspend(chime: BaseClient, account: str, user: str) -> dict[str, Any]:
    """A real BatchSuspendUser from boto3, on a thread: the emulator serves on this loop."""
    answer: dict[str, Any] = await asyncio.to_thread(
        chime.batch_suspend_user, AccountId=account, UserIdList=[user]
    )
    return answer


def registration(card: dict[str, object]) -> str:
    """The value beside the card's "Registration" label."""
    for block in card["blocks"]:  # type: ignore[attr-defined]
        items = block.get("fields", [])
        for label, value in zip(items[::2], items[1::2], strict=True):
            if label["text"] == "*Registration*":
                return str(value["text"])
    raise AssertionError("no Registration field")


async def test_a_suspended_users_card_says_suspended_and_what_it_means(
    bot: OfflineBot, chime: BaseClient
) -> None:
    answer = await suspend(chime, CORP, ADA)
    assert answer.get("UserErrors", []) == []

    _, card = await lookup(bot, "user ada@example.com")

    assert_valid_message(card)
    text = all_text(card)
    assert "Ada Lovelace" in text
    assert registration(card).startswith("Suspended")
    assert "cannot sign in" in text
    assert "suspended" in str(card["text"]).lower(), "the notification says it too"


async def test_registered_and_unregistered_users_are_not_called_suspended(
    bot: OfflineBot,
) -> None:
    for email, shown in (("ada@example.com", "Registered"), ("grace@example.com", "Unregistered")):
        _, card = await lookup(bot, f"user {email}")
        assert registration(card) == shown
        assert "Suspended" not in all_text(card) and "cannot sign in" not in all_text(card)
        assert "suspended" not in str(card["text"]).lower()


@pytest.mark.parametrize("looked_up_before", [False, True], ids=["cold", "cached"])
async def test_a_team_user_removed_by_suspension_is_not_found_and_told_how_back(
    bot: OfflineBot, chime: BaseClient, looked_up_before: bool
) -> None:
    if looked_up_before:
        _, card = await lookup(bot, "user linus@example.org")
        assert "Example Team" in all_text(card)
    assert (await suspend(chime, TEAM, LINUS)).get("UserErrors", []) == []

    _, card = await lookup(bot, "user linus@example.org")

    assert_valid_message(card)
    text = all_text(card)
    assert "No Chime user with the email linus@example.org" in text
    assert "/chime invite linus@example.org" in text, "inviting them again is the way back"
    assert "Suspended" not in text
