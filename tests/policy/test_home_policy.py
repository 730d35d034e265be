"""App Home under the per-account policy file: a change refreshes the tabs of the request's own
account's approvers, and only they see it as something to decide.

Over signed HTTP with the policy of tests/policy/test_policy.py (Example Corp: CORP_BOSS and the
group CORP_GROUP, whose member is ALICE; Example Team: TEAM_BOSS and TEAM_BOSS2).
"""

from __future__ import annotations

from bot.offline.slack_standin import buttons
from bot.offline.wiring import OfflineBot
from tests.approvals.test_app_home import home_text, open_home
from tests.approvals.test_invite import settle
from tests.policy.test_policy import (  # noqa: F401  (the fixtures, reused)
    ALICE,
    CORP_BOSS,
    TEAM_BOSS,
    ask,
    bot,
    slack,
)


async def test_filing_refreshes_the_accounts_own_approvers_tabs(bot: OfflineBot) -> None:  # noqa: F811
    await ask(bot, 'invite c@example.com --account "Example Corp"')
    await settle(bot)
    home = bot.slack.home
    await bot.slack.wait_for(lambda: home.publishes_for(CORP_BOSS) > 0)
    await bot.slack.wait_for(lambda: home.publishes_for(ALICE) > 0)
    assert home.publishes_for(TEAM_BOSS) == 0, "another account's approver is not concerned"
    assert "c@example.com" in home_text(home.views[CORP_BOSS])

    theirs = await open_home(bot, TEAM_BOSS)
    assert "c@example.com" not in home_text(theirs) and buttons({"blocks": theirs["blocks"]}) == []
