"""Which changes need approval and the longest access, per account: the account's entry over
the file's default over the built-in safe default (everything needs approval except resetting
one's own PIN; no cap on access)."""

from __future__ import annotations

import pytest

from bot.config.policy_file import parse_policy
from bot.policy.authz import Policy
from bot.policy.effective import AccountPolicy, Policies

CORP_ID = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
ACTIONS = (
    "invite",
    "suspend",
    "unsuspend",
    "logout",
    "reset_pin",
    "reset_pin_self",
    "license",
    "extend",
)


def book(text: str | None) -> Policies:
    file = parse_policy(text.encode(), "policy.yml") if text is not None else None
    return Policies(Policy(frozenset({"C0ENV"}), frozenset({"U0ENV"})), 3600, file)


def needing(rules: AccountPolicy) -> set[str]:
    return {action for action in ACTIONS if rules.needs_approval(action)}


SAFE = set(ACTIONS) - {"reset_pin_self"}


@pytest.mark.parametrize("text", [None, "default: {ttl: 60}\n"], ids=["no-file", "file"])
def test_without_actions_everything_but_ones_own_pin_needs_approval(text: str | None) -> None:
    rules = book(text).for_account(CORP_ID, "Example Corp")
    assert needing(rules) == SAFE
    assert rules.max_access is None


def test_each_action_falls_back_from_the_entry_to_the_default_to_the_safe_default() -> None:
    policies = book(
        """
default:
  actions: {logout: none, reset_pin_self: approval, license: none}
  max_access: 30d
accounts:
  Example Corp:
    actions: {license: approval, suspend: none}
    max_access: 8h
  Example Team: {ttl: 60}
"""
    )
    corp = policies.for_account(CORP_ID, "Example Corp")
    # suspend from the entry, license from the entry over the default's none, logout and
    # reset_pin_self from the default, the rest built in.
    assert needing(corp) == {
        "invite",
        "unsuspend",
        "reset_pin",
        "reset_pin_self",
        "license",
        "extend",
    }
    assert corp.max_access == 8 * 3600

    team = policies.for_account("7ea70000", "Example Team")
    assert needing(team) == SAFE - {"logout", "license"} | {"reset_pin_self"}
    assert team.max_access == 30 * 86_400, "an entry without max_access takes the default's"

    other = policies.for_account("0000", "Example Labs")
    assert needing(other) == needing(team)


def test_an_entry_may_set_max_access_without_a_default() -> None:
    policies = book("accounts:\n  Example Corp: {max_access: 2w}\n")
    assert policies.for_account(CORP_ID, "example corp").max_access == 14 * 86_400
    assert policies.for_account("0000", "Example Labs").max_access is None


def test_an_unknown_action_is_a_programming_error_not_a_silent_answer() -> None:
    with pytest.raises(ValueError, match="reset_password"):
        book(None).default().needs_approval("reset_password")
