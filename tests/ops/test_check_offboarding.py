"""`chime-bot check` on offboarding (issue 21): the CHIME_OFFBOARDING mode, and whether the
token has users:read and users:read.email (Slack's X-OAuth-Scopes header), failing only when the
mode acts on deactivations it could not read. A real process against the Slack stand-in, the
Chime emulator and moto's server, as an operator runs it."""

from __future__ import annotations

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from tests.ops.test_check import run_check, world  # noqa: F401  (the fixture, reused)

pytest_plugins = ("tests.dynamo",)


def without(slack: SlackStandIn, scope: str) -> None:
    slack.scopes = tuple(s for s in slack.scopes or () if s != scope)


async def test_off_is_reported_with_the_scopes_and_passes(
    world: dict[str, str],  # noqa: F811
) -> None:
    checked = await run_check(world)
    assert checked.code == 0, checked.out
    line = checked.line("Offboarding")
    assert line.startswith("✓") and "off: a Slack deactivation changes nothing" in line, line
    assert "users:read and users:read.email granted" in line


@pytest.mark.parametrize("mode", ["request", "suspend"])
async def test_an_acting_mode_passes_with_both_scopes(
    world: dict[str, str],  # noqa: F811
    mode: str,
) -> None:
    checked = await run_check({**world, "CHIME_OFFBOARDING": mode})
    assert checked.code == 0, checked.out
    line = checked.line("Offboarding")
    assert line.startswith("✓ Offboarding") and f"{mode}: a Slack deactivation" in line, line


@pytest.mark.parametrize("scope", ["users:read", "users:read.email"])
async def test_an_acting_mode_fails_when_a_scope_is_missing(
    world: dict[str, str],  # noqa: F811
    peers: tuple[ChimeEmulator, SlackStandIn],
    scope: str,
) -> None:
    _, slack = peers
    without(slack, scope)
    checked = await run_check({**world, "CHIME_OFFBOARDING": "suspend"})
    assert checked.code == 1
    line = checked.line("Offboarding")
    assert line.startswith("✗") and f"the token lacks {scope}" in line, line
    assert "fix:" in line and "reinstall" in line and "CHIME_OFFBOARDING=off" in line
    # Off, the same token only says what it lacks.
    checked = await run_check(world)
    assert checked.code == 0, checked.out
    assert checked.line("Offboarding").startswith("✓") and scope in checked.line("Offboarding")
