"""The policy file's loader against hostile YAML: whichever path loads the file, a few hundred
bytes cannot expand into gigabytes, because anchors, aliases and merge keys are refused while
the file is composed, before any value is built."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.config.policy_file import PolicyFileError, load_policy_file


def bomb() -> str:
    """The 488-byte file from the report: each level merges the one below nine times, so the
    `default` mapping expands to 9**9 entries (gigabytes) when merge keys are honoured."""
    inner = "&x0 {a: 1}"
    for level in range(1, 10):
        aliases = ", ".join([f"*x{level - 1}"] * 8)
        inner = f"&x{level} {{<<: [{inner}, {aliases}]}}"
    return f"default: {inner}\n"


SPELL_OUT = (
    "a policy file spells every value out, without anchors (&name), aliases (*name) "
    "or merge keys (<<)"
)

# The loader alone, in a child process whose address space is capped: were the file expanded,
# the child would die of MemoryError instead of printing the refusal.
LOAD_CAPPED = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    limit = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from bot.config.policy_file import PolicyFileError, load_policy_file
    try:
        load_policy_file(Path(sys.argv[1]))
    except PolicyFileError as exc:
        print(json.dumps(exc.problems))
    else:
        print(json.dumps([]))
    """
)


def test_the_loader_refuses_a_yaml_bomb_before_building_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(bomb(), encoding="utf-8")
    assert path.stat().st_size == 488
    result = subprocess.run(
        [sys.executable, "-c", LOAD_CAPPED, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [
        f"CHIME_POLICY_FILE ({path}): line 1, column 10: the anchor &x9: {SPELL_OUT}"
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("default: {approvers: [U0BOSS]}\naccounts:\n  A: *x\n", "line 3, column 6: the alias *x"),
        ("default: &d {ttl: 60}\n", "line 1, column 10: the anchor &d"),
        ("default:\n  <<: {ttl: 60}\n", "line 2, column 3: the merge key <<"),
        ("default: {!!merge <<: {ttl: 60}}\n", "line 1, column 11: the merge key <<"),
    ],
    ids=["alias", "anchor", "merge-key", "tagged-merge-key"],
)
def test_anchors_aliases_and_merge_keys_are_refused_in_plain_words(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyFileError) as refused:
        load_policy_file(path)
    assert refused.value.problems == [f"CHIME_POLICY_FILE ({path}): {why}: {SPELL_OUT}"]


def test_deep_nesting_is_refused_rather_than_exhausting_the_parser(tmp_path: Path) -> None:
    path = tmp_path / "deep.yml"
    path.write_text("default: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(PolicyFileError) as refused:
        load_policy_file(path)
    (problem,) = refused.value.problems
    assert problem.endswith("nested more than 20 levels deep; is it the right file?")


def test_a_quoted_merge_key_is_only_a_misspelt_setting(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text('default: {"<<": {ttl: 60}}\n', encoding="utf-8")
    with pytest.raises(PolicyFileError) as refused:
        load_policy_file(path)
    (problem,) = refused.value.problems
    assert 'default."<<": not a policy setting' in problem
