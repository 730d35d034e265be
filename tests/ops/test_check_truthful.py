"""`chime-bot check` tells only what is so: every approver group is checked wherever it is
named, a setup in which no invite could be approved fails, no log line lands on the table, and
checking creates and writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.store import open_store
from tests.cli import offline_env
from tests.ops.test_check import run_check
from tests.policy.test_policy import ALICE, CORP_BOSS, CORP_GROUP, policy_file

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

UNREADABLE = "S0NOSUCHGROUP"  # the stand-in knows no such group: usergroups.users.list fails


@pytest.fixture
def world(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Path
) -> dict[str, str]:
    """Everything right: the environment a correct deployment would have."""
    emulator, slack = peers
    return offline_env(slack, emulator, tmp_path, AWS_ENDPOINT_URL_STS=moto_dynamo.url)


async def test_groups_named_only_in_the_policy_file_are_checked_above_the_policy_lines(
    world: dict[str, str], peers: tuple[Any, SlackStandIn], tmp_path: Path
) -> None:
    _, slack = peers
    slack.usergroups[CORP_GROUP] = [ALICE]
    text = f"accounts:\n  Example Corp: {{approvers: [{CORP_BOSS}, {CORP_GROUP}, {UNREADABLE}]}}\n"
    env = {**world, "CHIME_POLICY_FILE": policy_file(tmp_path, text)}
    checked = await run_check(env)
    assert checked.code == 1
    corp = checked.line("Policy for Example Corp")
    assert corp.startswith("✗") and "fix: See the approver group checks above" in corp
    unreadable = checked.line(f"Approver group {UNREADABLE}")
    assert unreadable.startswith("✗"), unreadable
    assert checked.line(f"Approver group {CORP_GROUP}").startswith(f"✓ Approver group {CORP_GROUP}")
    assert ALICE in checked.line(f"Approver group {CORP_GROUP}")
    assert checked.out.index(f"Approver group {UNREADABLE}") < checked.out.index(
        "Policy for Example Corp"
    ), "the line the fix points to comes above it"


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"CHIME_APPROVERS": ""}, "Approvers"),
        ({"CHIME_APPROVERS": "U0ONLYONE", "CHIME_APPROVALS_REQUIRED": "2"}, "Approvers"),
        ({"CHIME_APPROVERS": "S0EMPTYGROUP"}, "Approvers now"),
        (
            {"CHIME_APPROVERS": "U0ONE,S0EMPTYGROUP", "CHIME_APPROVALS_REQUIRED": "2"},
            "Approvers now",
        ),
    ],
    ids=["none", "one-of-two", "empty-group", "one-and-empty-group-of-two"],
)
async def test_a_setup_where_no_invite_can_be_approved_fails(
    world: dict[str, str], peers: tuple[Any, SlackStandIn], settings: dict[str, str], line: str
) -> None:
    _, slack = peers
    slack.usergroups["S0EMPTYGROUP"] = []
    checked = await run_check({**world, **settings})
    assert checked.code == 1, checked.out
    found = checked.line(line)
    assert found.startswith("✗") and "no invite can" in found and "fix:" in found, found
    assert "(optional)" not in found


async def test_enough_approvers_through_a_group_pass(
    world: dict[str, str], peers: tuple[Any, SlackStandIn]
) -> None:
    _, slack = peers
    slack.usergroups["S0TWO"] = ["U0A", "U0B"]
    checked = await run_check(
        {**world, "CHIME_APPROVERS": "S0TWO", "CHIME_APPROVALS_REQUIRED": "2"}
    )
    assert checked.code == 0, checked.out
    assert checked.line("Approvers now").startswith("✓ Approvers now") and "U0A, U0B" in checked.out


async def test_no_log_line_lands_on_the_table(world: dict[str, str]) -> None:
    # Missing AWS credentials: the Chime client logs an ERROR about them, which serve needs and
    # check does not (its table says the same, in place).
    checked = await run_check({**world, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert checked.code == 1
    assert "no AWS credentials found" in checked.line("Amazon Chime")
    assert checked.err == ""
    assert "ERROR" not in checked.out


def _listing(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(root.rglob("*"))
    }


async def test_check_creates_no_store_where_there_is_none(
    world: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    checked = await run_check({**world, "CHIME_STORE_URL": ""})
    line = checked.line("Request store")
    assert line.startswith("✓") and "no store at .chime-bot/state.db yet" in line, line
    assert _listing(here) == {}


async def test_check_reads_an_existing_store_without_writing_to_it(
    world: dict[str, str], peers: tuple[ChimeEmulator, Any], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    path = store / "state.db"
    # A store serve made and closed (its WAL checkpointed, the -wal and -shm files gone).
    opened = await open_store(f"sqlite:///{path}", data_dir=tmp_path)
    await opened.check_writable()
    await opened.close()
    before = _listing(store)
    assert list(before) == ["state.db"]
    checked = await run_check({**world, "CHIME_STORE_URL": f"sqlite:///{path}"})
    assert checked.line("Request store").startswith("✓ Request store"), checked.out
    assert f"readable and writable (SQLite {path})" in checked.line("Request store")
    assert _listing(store) == before

    path.write_bytes(b"not a database" * 100)
    checked = await run_check({**world, "CHIME_STORE_URL": f"sqlite:///{path}"})
    line = checked.line("Request store")
    assert line.startswith("✗") and "file is not a database" in line, line


async def test_check_writes_no_item_to_a_dynamodb_store(
    world: dict[str, str], dynamo_table: str, moto_dynamo: MotoDynamo
) -> None:
    env = {**world, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{dynamo_table}"}
    checked = await run_check(env)
    assert checked.line("Request store").startswith("✓ Request store"), checked.out
    assert moto_dynamo.admin.scan(TableName=dynamo_table)["Items"] == []
