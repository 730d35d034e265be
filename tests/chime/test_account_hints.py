"""What a near miss on `--account` suggests, over signed slash commands: only accounts the bot
could use, and quotes when the name was cut at its first space."""

from __future__ import annotations

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import offline_bot
from tests.approvals.test_invite import invite
from tests.blockkit import all_text
from tests.chime.test_accounts import nothing_filed
from tests.clock import VirtualClock


@pytest.mark.parametrize("account_type", ["EnterpriseOIDC", "EnterpriseDirectory"])
async def test_directory_accounts_are_never_suggested(
    emulator: ChimeEmulator, clock: VirtualClock, account_type: str
) -> None:
    emulator.add_account(name="Engineering Managed", account_type=account_type)
    emulator.add_account(name="Engineering")
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        text = all_text(await invite(bot, "near@example.com --account Enginering"))
        assert "Did you mean" in text and "Engineering (" in text
        assert "Engineering Managed" not in text, text
        await nothing_filed(bot)


async def test_a_name_cut_at_its_space_gets_the_hint_to_quote_it(
    emulator: ChimeEmulator, clock: VirtualClock
) -> None:
    async with offline_bot(emulator=emulator, clock=clock) as bot:
        text = all_text(await invite(bot, "ada@example.com --account Example Corp new hire"))
        assert "No Chime account is named exactly “Example”" in text
        assert 'A name with spaces goes in quotes: --account "Example Corp"' in text, text
        await nothing_filed(bot)
        # A near miss that is not a cut name gets no such hint.
        text = all_text(await invite(bot, "ada@example.com --account Corp"))
        assert "Did you mean" in text and "in quotes" not in text
