"""Least privilege that cannot drift: the Chime actions the bot's code calls, derived from the
code, against the three places that grant them (deploy/chime-bot.yaml's task role, `chime-bot
init-store --print-policy`, the README's IAM policy), and the store's actions and resources
against what `init-store` documents.

The derivation reads every product module (bot/ without the offline stand-ins, handlers/) and
collects each name botocore's Chime model calls an operation: an attribute (`client.get_user`,
`self.client.create_user(...)`), or a string naming one as the bot passes it around
(`_call("GetUser", "get_user", ...)`, `get_paginator("list_users")`). A new call to Chime is
either of those, so it cannot go unnoticed; a name that only looks like an operation shows up
here too, and fails loudly rather than silently.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from bot.chime.iam import CHIME_ACTIONS
from bot.offline.emulator import ChimeEmulator
from bot.offline.wiring import DEMO_APPROVER, OfflineBot, offline_bot
from bot.store.admin import RUNTIME_ACTIONS
from bot.store.items import INDEX
from tests.approvals.test_invite import APPROVERS, click, invite, the_card
from tests.cli import run_cli
from tests.clock import VirtualClock
from tests.deploy.template import ROOT, statement, statements


def product_modules() -> Iterator[Path]:
    for top in ("bot", "handlers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "offline" not in path.relative_to(ROOT).parts:
                yield path


def chime_operations_called() -> set[str]:
    operations = set(botocore.session.get_session().get_service_model("chime").operation_names)
    by_method = {xform_name(op): op for op in operations}
    found = set()
    for path in product_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in by_method:
                found.add(by_method[node.attr])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in operations:
                    found.add(node.value)
                elif node.value in by_method:
                    found.add(by_method[node.value])
    return found


def derived_actions() -> list[str]:
    return sorted(f"chime:{op}" for op in chime_operations_called())


def chime_actions_in(policy: dict[str, Any]) -> list[str]:
    statements = policy["Statement"]
    return sorted(
        a for s in statements for a in _listed(s["Action"]) if str(a).startswith("chime:")
    )


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# cfn-lint's copy of IAM's actions per service (the data its rule W3037 checks policies with).
IAM_ACTIONS: dict[str, Any] = json.loads(
    resources.files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text()
)


def is_iam_action(action: str) -> bool:
    """Whether IAM knows the action (cfn-lint's copy of the Service Authorization Reference)."""
    service, name = action.split(":", 1)
    return name.lower() in IAM_ACTIONS.get(service, {}).get("Actions", {})


# ---- the derivation itself --------------------------------------------------------------------


def test_the_derivation_finds_real_iam_actions() -> None:
    actions = derived_actions()
    assert "chime:CreateUser" in actions and "chime:ListUsers" in actions, actions
    unknown = [a for a in actions if not is_iam_action(a)]
    assert not unknown, f"derived from the code, but IAM has no such action: {unknown}"


@pytest.fixture
async def bot(emulator: ChimeEmulator, clock: VirtualClock) -> Any:
    overrides: dict[str, object] = {"chime_approvers": ",".join(APPROVERS)}
    async with offline_bot(overrides, emulator=emulator, clock=clock) as running:
        yield running


async def test_every_operation_the_bot_sends_is_derived(bot: OfflineBot) -> None:
    """A run through lookup, filing and approval on both paths (CreateUser for an enterprise
    account, InviteUsers for a team one): whatever reached Chime, the derivation names."""
    await invite(bot, 'newhire@example.com --account "Example Corp"')
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    bot.slack.messages.clear()
    await invite(bot, 'pat@example.org --account "Example Team" --type SharedDevice')
    await click(bot, the_card(bot), "Approve", DEMO_APPROVER)
    sent = {call.operation for call in bot.emulator.calls}
    assert {"CreateUser", "InviteUsers", "ListAccounts"} <= sent
    assert sent <= chime_operations_called()


# ---- the three places that grant them ---------------------------------------------------------


def test_the_code_declares_exactly_the_actions_it_calls() -> None:
    assert sorted(CHIME_ACTIONS) == derived_actions()


def test_the_template_grants_exactly_the_actions_the_code_calls() -> None:
    chime = statement("TaskRole", "ChimeUserAdministration")
    assert sorted(_listed(chime["Action"])) == derived_actions()
    assert chime["Resource"] == "*", "Chime's account API has no resource-level permissions"


def test_init_store_prints_exactly_the_actions_the_code_calls() -> None:
    result = run_cli(
        "init-store",
        "--print-policy",
        env={"CHIME_STORE_URL": "dynamodb://chime-requests", "AWS_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    assert chime_actions_in(json.loads(result.stdout)) == derived_actions()


def iam_blocks(text: str) -> Iterator[dict[str, Any]]:
    """Every ```json block in a Markdown text that is an IAM policy granting Chime actions."""
    for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL):
        if '"chime:' in block:
            yield json.loads(block)


def test_the_readme_grants_exactly_the_actions_the_code_calls() -> None:
    # The README's IAM section, wherever the docs keep it (README.md or a page under docs/).
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [(p.name, chime_actions_in(b)) for p in pages for b in iam_blocks(p.read_text())]
    assert found, "no IAM policy granting Chime actions in the README or docs/"
    for page, actions in found:
        assert actions == derived_actions(), f"{page}'s IAM policy"


# ---- the store: the table and its index only, the runtime actions only -------------------------


def test_the_template_grants_the_store_its_runtime_actions_on_the_table_and_index_only() -> None:
    store = statement("TaskRole", "ChimeBotRequestStore")
    # init-store's list also names dynamodb:TransactWriteItems "for tools that expect it"; IAM
    # authorizes a transaction per item (PutItem, UpdateItem, ConditionCheckItem) and has no
    # such action, which cfn-lint refuses.
    wanted = sorted(a for a in RUNTIME_ACTIONS if is_iam_action(a))
    assert sorted(_listed(store["Action"])) == wanted
    assert "dynamodb:Scan" not in wanted and "dynamodb:DeleteItem" not in wanted
    restored, created = store["Resource"]["Fn::If"][1:]
    assert created == [
        {"Fn::GetAtt": ["Table", "Arn"]},
        {"Fn::Sub": f"${{Table.Arn}}/index/{INDEX}"},
    ]
    arn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
    assert restored == [
        {"Fn::Sub": f"{arn}${{RestoredTableName}}"},
        {"Fn::Sub": f"{arn}${{RestoredTableName}}/index/{INDEX}"},
    ]


def test_the_task_role_has_no_other_statement() -> None:
    sids = {s["Sid"] for s in statements("TaskRole")}
    assert sids == {"ChimeUserAdministration", "ChimeBotRequestStore", "ReadPolicyParameter"}
