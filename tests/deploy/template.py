"""deploy/chime-bot.yaml read as data: CloudFormation's short tags (!Ref, !Sub, !If ...) become
the long form ({"Ref": ...}, {"Fn::Sub": ...}), as CloudFormation itself reads them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "chime-bot.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's intrinsic-function tags."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":  # !GetAtt Table.Arn is ["Table", "Arn"]
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@cache
def template() -> dict[str, Any]:
    loaded = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)
    assert isinstance(loaded, dict)
    return loaded


def resource(name: str) -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"][name]
    return found


def statements(role: str) -> list[dict[str, Any]]:
    """A role's inline policy statements; a statement behind !If counts as present."""
    out = []
    for policy in resource(role)["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            out.append(statement)
    return out


def statement(role: str, sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements(role) if s.get("Sid") == sid]
    return found


def container() -> dict[str, Any]:
    (only,) = resource("TaskDefinition")["Properties"]["ContainerDefinitions"]
    found: dict[str, Any] = only
    return found


# CloudWatch Logs' JSON filter patterns as the template writes them: conjunctions of string
# equalities, `{ ($.a = "x") && ($.b = "y") }` (CloudWatch Logs User Guide, "Filter pattern
# syntax for metric filters ... JSON log events").
_CLAUSE = r'\(\$\.([A-Za-z_]+) = "([^"*]*)"\)'
_PATTERN = re.compile(rf"\{{ {_CLAUSE}(?: && {_CLAUSE})* \}}")


def filter_clauses(pattern: str) -> dict[str, str]:
    """The field = value pairs of a filter pattern of that shape (AssertionError otherwise)."""
    assert _PATTERN.fullmatch(pattern), f"not a conjunction of equalities: {pattern}"
    return dict(re.findall(_CLAUSE, pattern))


def matches(pattern: str, line: dict[str, Any]) -> bool:
    """Whether CloudWatch would count this JSON log line for the pattern."""
    return all(line.get(field) == value for field, value in filter_clauses(pattern).items())
