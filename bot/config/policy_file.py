"""CHIME_POLICY_FILE: the per-account policy as YAML, read and validated once at start-up.

The file is strict, because a policy that is read differently from how it was meant grants
access no one intended:
- YAML is read with PyYAML's SafeLoader (no object tags), and a key given twice in one mapping
  is an error (PyYAML would silently keep the last one).
- Anchors (`&a`), aliases (`*a`) and merge keys (`<<`) are refused while the file is composed,
  before any value is built: with them a file of a few hundred bytes expands to billions of
  entries (a "billion laughs"), and a policy is short enough to spell every value out. Nesting
  is capped too, so a file of brackets cannot exhaust the parser's recursion.
- Every section refuses unknown keys and coerces nothing: `ttl: "3600"`, `approvals_required:
  "2"`, `channels: C0123ABCD` (a string, not a list) and an account named `no` (YAML reads
  it as false) are all refused, each with its place in the file.
- Two account entries whose keys differ only in letter case name the same account: refused.
- `actions` and `max_access` (bot/config/policy_actions.py): an unknown action gets a "did you
  mean" as an unknown key does; a null or a YAML boolean where `approval`/`none` belongs is
  refused with what to write, never read as either.

Every problem is one line, prefixed with the place in the file (`accounts."Example
Corp".approvals_required`), so `load_settings` reports them all at once with the settings' own
problems and every command exits 2 the same way.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bot.config.policy_actions import ACTIONS, Actions, MaxAccess
from bot.slack.ids import APPROVER_ID, CHANNEL_ID

VARIABLE = "CHIME_POLICY_FILE"
MAX_BYTES = 1_000_000  # a policy, not a data set: anything larger is a mistake
# CreateAccount's Name in botocore's Chime model: AccountName, 1-100 characters.
MAX_KEY = 100
USER_TYPES = ("PrivateUser", "SharedDevice")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _channel(value: str) -> str:
    if not CHANNEL_ID.fullmatch(value):
        raise ValueError(f"not a Slack channel ID (like C0123ABCD): {shown(value)}")
    return value


def _approver(value: str) -> str:
    if not APPROVER_ID.fullmatch(value):
        raise ValueError(
            f"not a Slack user or user-group ID (like U0123ABCD or S0123ABCD): {shown(value)}"
        )
    return value


def _account_key(value: str) -> str:
    if not value.strip():
        raise ValueError("an account is named by its Chime name or account ID, not blank")
    if len(value) > MAX_KEY:
        raise ValueError(f"longer than a Chime account name can be ({MAX_KEY} characters)")
    return value


ChannelId = Annotated[str, AfterValidator(_channel)]
ApproverId = Annotated[str, AfterValidator(_approver)]
AccountKey = Annotated[str, AfterValidator(_account_key)]


class Rules(BaseModel):
    """One section: `default`, or one account's entry. A field left out takes the value of the
    layer below: an account's entry falls back to `default`, `default` to the environment."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    channels: list[ChannelId] | None = None
    approvers: list[ApproverId] | None = None
    approvals_required: Literal[1, 2] | None = None
    user_types: list[Literal["PrivateUser", "SharedDevice"]] | None = Field(None, min_length=1)
    ttl: int | None = Field(None, gt=0)  # seconds, as CHIME_REQUEST_TTL
    actions: Actions | None = None  # which changes need approval (bot/config/policy_actions.py)
    max_access: MaxAccess | None = None  # seconds, written as a duration (8h, 30d)


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    default: Rules | None = None
    accounts: dict[AccountKey, Rules] = Field(default_factory=dict)


class PolicyFileError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def shown(value: object) -> str:
    """A value from the file for a terminal or log line: quoted, control characters escaped."""
    return json.dumps(str(value), ensure_ascii=True)


def load_policy_file(path: Path) -> PolicyFile:
    """The validated file, or PolicyFileError with one line per problem."""
    where = f"{VARIABLE} ({path})"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PolicyFileError([f"{where}: cannot be read ({exc.strerror or exc})"]) from None
    return parse_policy(raw, where)


def parse_policy(raw: bytes, where: str) -> PolicyFile:
    """The validated policy from the file's bytes, wherever they were read (a file, or an SSM
    parameter: bot/config/policy_source.py); `where` prefixes every problem."""
    if len(raw) > MAX_BYTES:
        raise PolicyFileError([f"{where}: larger than {MAX_BYTES} bytes; is it the right file?"])
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_StrictLoader)  # a SafeLoader
    except UnicodeDecodeError:
        raise PolicyFileError([f"{where}: not UTF-8 text"]) from None
    except _Refused as exc:
        raise PolicyFileError([f"{where}: {_yaml_problem(exc)}"]) from None
    except yaml.YAMLError as exc:
        raise PolicyFileError([f"{where}: not valid YAML: {_yaml_problem(exc)}"]) from None
    if not isinstance(data, dict):
        raise PolicyFileError(
            [f"{where}: must be a mapping with `default:` and/or `accounts:` at the top"]
        )
    problems = _same_names(data.get("accounts"))
    try:
        policy = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()] + problems
    if problems:
        raise PolicyFileError([f"{where}: {p}" for p in problems])
    return policy


def _same_names(accounts: object) -> list[str]:
    """Account names match case-insensitively, so keys differing only in case collide."""
    seen: dict[str, str] = {}
    problems = []
    for key in accounts if isinstance(accounts, dict) else {}:
        if not isinstance(key, str):
            continue  # refused by the model
        other = seen.setdefault(key.casefold(), key)
        if other != key:
            problems.append(
                f"accounts: {shown(other)} and {shown(key)} name the same account "
                "(names match whatever their letter case); keep one entry"
            )
    return problems


def _describe(err: Any) -> str:
    loc = tuple(err.get("loc", ()))
    if loc[-1:] == ("[key]",):  # a bad key: pydantic puts a stand-in for it in the path
        loc = (*loc[:-2], err.get("input"))
    place = _place(loc)
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        raw = tuple(err.get("loc", ()))
        if _in_actions(raw):
            allowed: list[str] = list(ACTIONS)
            message = f"not an action (allowed: {', '.join(allowed)})"
        else:
            allowed = list((PolicyFile if len(raw) == 1 else Rules).model_fields)
            message = f"not a policy setting (allowed: {', '.join(allowed)})"
        # As for a misspelt CHIME_* variable (bot/config/settings.py).
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if loc else []
        if close:
            message += f"; did you mean {close[0]}?"
    elif kind != "value_error" and "input" in err:
        value = err["input"]
        if isinstance(value, str):
            message += f" (got {shown(value)})"
        elif isinstance(value, int | float | bool) or value is None:
            message += f" (got {value!r})"
    if kind == "string_type" and loc[:1] == ("accounts",) and err.get("loc", ())[-1] == "[key]":
        message += "; YAML read the account's name as another type: put it in quotes"
    return f"{place}: {message}" if place else message


def _in_actions(loc: tuple[Any, ...]) -> bool:
    """A key inside a section's `actions`: default.actions.<key> or accounts.<name>.actions.<key>
    (by depth, since an account may be named "actions")."""
    depth = {"default": 3, "accounts": 4}.get(loc[0]) if loc else None
    return depth is not None and len(loc) == depth and loc[-2] == "actions"


def _place(loc: tuple[Any, ...]) -> str:
    """pydantic's error location as a path into the YAML: accounts."Example Corp".ttl."""
    out = ""
    for part in loc:
        if isinstance(part, bool):  # a key YAML read as a boolean (`no:`, `on:`)
            out += f".{str(part).lower()}"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            name = text if _IDENTIFIER.fullmatch(text) else shown(text)
            out += f".{name}" if out else name
    return out


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


MAX_DEPTH = 20  # a policy nests 4 deep (accounts > name > approvers > item)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SPELL_OUT = (
    "a policy file spells every value out, without anchors (&name), aliases (*name) "
    "or merge keys (<<)"
)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a policy file may not use; refused before anything is built."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, merge keys, deep nesting, and a key given
    twice in one mapping.

    The first four are refused in the composer, which sees each piece of the file once, in
    order: an alias is refused where it is met, so nothing is ever shared, copied or merged.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _refused(f"the alias *{event.anchor}: {_SPELL_OUT}", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _refused(f"the anchor &{event.anchor}: {_SPELL_OUT}", event.start_mark)
        if self.depth >= MAX_DEPTH:
            deep = f"nested more than {MAX_DEPTH} levels deep; is it the right file?"
            raise _refused(deep, event.start_mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        # A mapping's key is composed with index None (its value with the key as index).
        key = isinstance(parent, yaml.MappingNode) and index is None
        if key and node is not None and node.tag == _MERGE_TAG:
            raise _refused(f"the merge key <<: {_SPELL_OUT}", node.start_mark)
        return node


def _refused(problem: str, mark: Any) -> _Refused:
    return _Refused(None, None, problem, mark)


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: construct_mapping reports it below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {shown(key)} is given twice in one mapping",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


__all__ = [
    "USER_TYPES",
    "PolicyFile",
    "PolicyFileError",
    "Rules",
    "load_policy_file",
    "parse_policy",
    "shown",
]
