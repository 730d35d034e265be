"""CHIME_POLICY_FILE read as an operator meets it: every mistake one line with its place in the
file and exit 2 from every command, and `chime-bot check` printing the effective policy per
account, marking what Chime lacks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.config.policy_file import load_policy_file
from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from tests.cli import offline_env, run_cli
from tests.conftest import CHANNEL
from tests.ops.test_check import run_check
from tests.policy.test_policy import (
    ALICE,
    CORP_BOSS,
    CORP_GROUP,
    CORP_ID,
    TEAM_BOSS,
    TEAM_ID,
    policy_file,
)

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

# ---- a bad file: one line per problem, exit 2, whichever command reads it --------------------

MANY_MISTAKES = f"""
defaults: {{}}
default:
  approvers: [U0OK, "@admins"]
  ttl: 1h
accounts:
  Example Corp:
    channels: C0DEMOCHAN
    approvals_required: 3
    user_types: [Admin]
    approver: [U0TYPO]
  example team: {{ttl: -5}}
  Example Team: {{ttl: 60}}
  no: {{ttl: 60}}
  {"x" * 101}: {{}}
"""


def problems_of(result: Any) -> list[str]:
    assert result.returncode == 2, result.stderr
    return [ln for ln in result.stderr.splitlines() if ln.startswith("  - CHIME_POLICY_FILE")]


def test_every_mistake_is_one_line_with_its_place_in_the_file(tmp_path: Path) -> None:
    path = policy_file(tmp_path, MANY_MISTAKES)
    problems = problems_of(run_cli("serve", env={"CHIME_POLICY_FILE": path}))
    expected = {
        "defaults: not a policy setting (allowed: default, accounts)": 1,
        "default.approvers[1]: not a Slack user or user-group ID": 1,
        "default.ttl: Input should be a valid integer": 1,
        'accounts."Example Corp".channels: Input should be a valid list': 1,
        'accounts."Example Corp".approvals_required: Input should be 1 or 2 (got 3)': 1,
        "accounts.\"Example Corp\".user_types[0]: Input should be 'PrivateUser'": 1,
        'accounts."Example Corp".approver: not a policy setting': 1,
        'accounts."example team".ttl: Input should be greater than 0': 1,
        "accounts.false: Input should be a valid string (got False); YAML read": 1,
        'accounts: "example team" and "Example Team" name the same account': 1,
        "longer than a Chime account name can be": 1,
    }
    for text, count in expected.items():
        found = [p for p in problems if text in p]
        assert len(found) == count, f"{text!r} in {problems}"
    assert all(p.startswith(f"  - CHIME_POLICY_FILE ({path}): ") for p in problems)
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "accounts:\n  A: {ttl: 60}\n  A: {ttl: 90}\n",
            'line 3, column 3: the key "A" is given twice',
        ),
        (
            "accounts:\n  A: {ttl: 60}\n  a: {ttl: 90}\n",
            'accounts: "A" and "a" name the same account',
        ),
        ("accounts: [A, B]\n", "accounts: Input should be a valid dictionary"),
        ("accounts:\n  A: {ttl: 60\n", "not valid YAML: line 3"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "must be a mapping"),
        ("accounts:\n  A: !!python/object:os.system {}\n", "not valid YAML"),
        ("default: {ttl: true}\n", "default.ttl: Input should be a valid integer (got True)"),
    ],
    ids=["duplicate", "same-name", "list", "syntax", "not-a-mapping", "empty", "tag", "bool"],
)
def test_file_level_mistakes_are_named(tmp_path: Path, text: str, why: str) -> None:
    path = policy_file(tmp_path, text)
    (problem,) = problems_of(run_cli("serve", env={"CHIME_POLICY_FILE": path}))
    assert why in problem


@pytest.mark.parametrize("command", ["check", "console"])
def test_every_command_refuses_a_bad_file_the_same_way(tmp_path: Path, command: str) -> None:
    missing = str(tmp_path / "nowhere.yml")
    (problem,) = problems_of(run_cli(command, env={"CHIME_POLICY_FILE": missing}))
    assert (
        problem == f"  - CHIME_POLICY_FILE ({missing}): cannot be read (No such file or directory)"
    )


# ---- `chime-bot check`: the effective policy per account -------------------------------------


async def test_check_prints_the_effective_policy_and_marks_what_chime_lacks(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Path
) -> None:
    emulator, slack = peers
    slack.usergroups[CORP_GROUP] = [ALICE]
    text = f"""
default: {{approvers: [U0APPROVER]}}
accounts:
  Example Corp:
    channels: [{CHANNEL}]
    approvers: [{CORP_BOSS}, {CORP_GROUP}]
    approvals_required: 2
    user_types: [PrivateUser]
    ttl: 3600
    actions: {{logout: none, license: none}}
    max_access: 30d
  {TEAM_ID}: {{approvers: [{TEAM_BOSS}], approvals_required: 2}}
"""
    env = offline_env(
        slack,
        emulator,
        tmp_path,
        CHIME_POLICY_FILE=policy_file(tmp_path, text),
        # STS too, as in a deployment: else check asks AWS's real STS, which a test cannot
        # reach, and waits out botocore's retries (10 s and more) for a line not read here.
        AWS_ENDPOINT_URL_STS=moto_dynamo.url,
    )
    checked = await run_check(env)
    assert "2 account entries, a default section" in checked.line("Policy file")
    corp = checked.line("Policy for Example Corp")
    assert corp.startswith("✓") and CORP_ID in corp
    for part in (
        f"channels {CHANNEL};",
        f"approvers {CORP_BOSS}, {CORP_GROUP} (members: {ALICE});",
        "approvals required 2;",
        "user types PrivateUser;",
        "TTL 3600 s",
        'entry "Example Corp"',
        "approval for invite, suspend, unsuspend, reset_pin, extend;",
        "no approval for logout, reset_pin_self, license;",
        "max access 30d",
    ):
        assert part in corp, corp
    team = checked.line("Policy for Example Team")
    assert team.startswith("✗") and "fewer approvers than approvals required" in team
    labs = checked.line("Policy for Example Labs")
    assert labs.startswith("✓") and "default section" in labs and "approvers U0APPROVER;" in labs
    assert "no approval for reset_pin_self;" in labs and "max access: no cap" in labs, labs
    assert "Approvers " not in checked.out, "the environment's lines give way to the file's"

    # A misspelt entry: marked, and the accounts the file does not name are blocked.
    misspelt = text.replace(TEAM_ID, "Example Taem")
    env["CHIME_POLICY_FILE"] = policy_file(tmp_path, misspelt, "misspelt.yml")
    checked = await run_check(env)
    assert checked.code == 1
    entry = checked.line('Policy entry "Example Taem"')
    assert entry.startswith("✗") and "matches no account Chime has" in entry and "fix:" in entry
    assert "matches no Chime account" in checked.line("Policy for Example Team")
    assert checked.line("Policy for Example Corp").startswith("✓")


def test_the_documented_example_is_a_valid_policy(tmp_path: Path) -> None:
    doc = Path(__file__).parent.parent.parent / "docs" / "configuration.md"
    example = doc.read_text(encoding="utf-8").split("# chime-policy.yml\n", 1)[1].split("```", 1)[0]
    policy = load_policy_file(Path(policy_file(tmp_path, example)))
    assert policy.accounts["Example Corp"].approvals_required == 2
    assert policy.default is not None and policy.default.approvers == ["S0ITADMINS"]
    corp = policy.accounts["Example Corp"]
    assert corp.actions is not None and corp.actions.logout == "none"
    assert corp.max_access == 8 * 3600
