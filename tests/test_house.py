"""The house's rules that import-linter cannot see (README, "Architecture"): no module reaches
into another's private names, every package says what it is for, and a module over 400 lines
says why it is one piece. Read from the source with `ast`, as a reviewer would."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])
MAX_LINES = 400


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(source: str) -> list[str]:
    """`from m import _x` of the project's own modules, and `obj._x` where obj is not self/cls:
    a name one module keeps to itself, used by another (or by another object)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {
            "bot",
            "handlers",
        }:
            found += [f"from {node.module} import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in {"self", "cls"}):
                found.append(ast.unparse(node))
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    uses = [
        f"{path.relative_to(ROOT)}: {use}"
        for path in SOURCES
        for use in private_uses(path.read_text(encoding="utf-8"))
    ]
    assert uses == [], "give what is shared a public name:\n" + "\n".join(uses)


def test_the_check_sees_a_private_use() -> None:
    sample = (
        "from bot.cards.approval import _button\n"
        "def f(ap, self):\n    ap._expire()\n    self._fine()\n    return ap.__class__\n"
    )
    assert private_uses(sample) == ["from bot.cards.approval import _button", "ap._expire"]


def test_every_package_says_what_it_is_for() -> None:
    packages = sorted({p.parent for p in SOURCES if p.name == "__init__.py"}, key=lambda p: str(p))
    silent = [
        str(p.relative_to(ROOT))
        for p in packages
        if not ast.get_docstring(ast.parse((p / "__init__.py").read_text(encoding="utf-8")))
    ]
    assert silent == []


def test_a_module_over_400_lines_says_why_it_is_one_piece() -> None:
    unexplained = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if not any(why in doc.lower() for why in ("one piece", "one module because")):
                unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == [], "split it, or say at its top why it is one piece"


def test_every_part_of_bot_has_a_place_in_the_layers() -> None:
    """import-linter checks only the modules a contract names: a new module or package left out
    of the layers would be free to import anything."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    parts = {
        f"bot.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "bot").iterdir()
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert parts - placed == set()


def wait_for_calls(source: str) -> list[str]:
    """Calls of asyncio.wait_for, by either spelling."""
    return [
        ast.unparse(node.func)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (
            (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "asyncio"
            )
            or (isinstance(node.func, ast.Name) and node.func.id == "wait_for")
        )
    ]


def test_nothing_waits_with_asyncio_wait_for() -> None:
    """On Python 3.11 (which the project supports) asyncio.wait_for swallows a cancellation
    that arrives just as its awaitable finishes (cpython gh-86296, fixed in 3.12). The sweeper
    probed the store that way; a shutdown whose cancel met a finishing probe left it sweeping,
    and the shutdown waiting on it, for ever. `async with asyncio.timeout(...)` does not."""
    calls = [
        f"{path.relative_to(ROOT)}: {call}"
        for path in SOURCES
        for call in wait_for_calls(path.read_text(encoding="utf-8"))
    ]
    assert calls == [], "use `async with asyncio.timeout(...)`:\n" + "\n".join(calls)
    assert wait_for_calls("import asyncio\nasync def f(x):\n    await asyncio.wait_for(x, 1)\n")
