"""SECURITY.md backs each claim with tests: every test it names exists, and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def named_tests() -> list[tuple[str, str | None]]:
    """(file, test name or None for a whole file) for every test the claims table cites."""
    table = (ROOT / "SECURITY.md").read_text().split("## Claims and their tests", 1)[1]
    found: list[tuple[str, str | None]] = []
    current = ""
    for ref in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", table):
        path, _, name = ref.partition("::")
        current = path or current
        found.append((current, name or None))
    return found


def test_every_cited_test_exists() -> None:
    cited = named_tests()
    assert len(cited) >= 20
    for path, name in cited:
        source = (ROOT / path).read_text()
        if name is not None:
            assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name}"


def test_readme_links_the_threat_model_and_the_http_section_has_its_place() -> None:
    assert "(SECURITY.md)" in (ROOT / "README.md").read_text()
    assert "## Strangers and the HTTP endpoint" in (ROOT / "SECURITY.md").read_text()
