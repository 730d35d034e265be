"""What a fresh clone ships: the licence, the version the CLI reports, the pinned image build."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The console script pip generated from [project.scripts], beside the interpreter running us.
CHIME_BOT = Path(sys.executable).parent / "chime-bot"


def test_version_comes_from_the_installed_package_through_the_real_cli() -> None:
    result = subprocess.run(
        [str(CHIME_BOT), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"chime-bot {PYPROJECT['project']['version']}\n"
    assert result.stderr == ""


def test_version_is_an_option_not_a_subcommand() -> None:
    """`--version` needs no subcommand, and a subcommand given with it never runs."""
    result = subprocess.run(
        [str(CHIME_BOT), "--version", "serve"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("chime-bot ")


def test_license_file_is_mit_and_ships_in_the_package_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 chime-bot contributors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    installed = metadata("chime-bot")
    assert installed["License-Expression"] == "MIT"
    assert "LICENSE" in (installed.get_all("License-File") or [])
