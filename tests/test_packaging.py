"""What a fresh clone ships: the licence, the version the CLI reports, the pinned image build."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def _runtime_closure() -> dict[str, str]:
    """Every distribution `pip install .` brings in (no extras), with its installed version."""
    found: dict[str, str] = {}
    todo = [(Requirement(r), "") for r in distribution("chime-bot").requires or []]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:  # a marker-less requirement pip would have installed
            raise AssertionError(f"{requirement.name} is required but not installed") from None
        found[name] = dist.version
        for wanted in ["", *requirement.extras]:
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return found


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_runtime_dependency_at_the_version_the_tests_run() -> None:
    """The image (Dockerfile) and `make test` install the same versions; a dependency added
    to pyproject.toml without re-pinning fails here, with the fix."""
    pins = _pins()
    closure = _runtime_closure()
    assert "botocore" in closure and "slack-bolt" in closure
    unpinned = sorted(set(closure) - set(pins))
    assert not unpinned, f"not in constraints.txt: {unpinned}; run `make constraints`"
    drift = {name: (closure[name], pins[name]) for name in closure if closure[name] != pins[name]}
    assert not drift, f"installed vs pinned: {drift}; reinstall (make) or `make constraints`"


def test_dockerfile_builds_from_the_pins_and_ships_the_licence() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = " ".join(re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE))
    assert "constraints.txt" in copied and "LICENSE" in copied
    installs = re.findall(r"pip install [^\\\n]*", dockerfile)
    assert any("-c constraints.txt ." in line for line in installs), installs
    assert all("--upgrade" not in line for line in installs), "an unpinned upgrade in the image"


def test_dockerfile_base_is_pinned_by_digest_in_every_stage() -> None:
    """A tag moves; a digest does not: the same commit builds on the same Python and Debian."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert len(bases) == 2, bases
    for base in bases:
        assert re.fullmatch(r"python:3\.\d+-slim@sha256:[0-9a-f]{64}", base), base
    assert len(set(bases)) == 1, "the build and the runtime stage share one base"
