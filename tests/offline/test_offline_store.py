"""`chime-bot audit` after the console or the demo: with CHIME_STORE_URL set, both keep their
requests there, so their trail can be read afterwards; unset, they use a throwaway store and
audit says how to keep one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.offline.demo import LEAVER, NEW_HIRE, SECOND_HIRE, UPGRADE
from tests.cli import run_cli
from tests.offline.test_console import console, steps


def audit_rows(store: str) -> str:
    result = run_cli("audit", env={"CHIME_STORE_URL": store})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_console_keeps_its_requests_where_chime_store_url_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{tmp_path / 'try.db'}"
    monkeypatch.setenv("CHIME_STORE_URL", store)
    out = console(
        '/chime invite kept@example.com --account "Example Corp" trying the console',
        "as U0APPROVER",
        "in C0APPROVALS",
        "click 1",
    )
    banner = out.split("\n\n", 1)[0]
    assert f"Requests are kept in {store} (CHIME_STORE_URL)" in banner
    assert "Approved by @U0APPROVER" in steps(out)[-1][1]
    trail = audit_rows(store)
    assert "kept@example.com" in trail and "U0APPROVER" in trail
    assert trail.rstrip().endswith("1 request.")


def test_the_demo_keeps_its_requests_where_chime_store_url_says(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = run_cli("demo", env={"CHIME_STORE_URL": store})
    assert demo.returncode == 0, demo.stderr
    assert f"Its requests are in {store}" in demo.stdout
    trail = audit_rows(store)
    assert NEW_HIRE in trail and SECOND_HIRE in trail
    assert LEAVER in trail and UPGRADE in trail, "the suspension and license change too"


def test_unset_the_session_leaves_no_store_and_audit_says_how_to_keep_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHIME_STORE_URL", raising=False)
    out = console('/chime invite gone@example.com --account "Example Corp"')
    assert "Requests are kept in" not in out
    result = run_cli("audit")
    assert result.returncode == 1
    assert "the console and the demo keep their requests only when CHIME_STORE_URL is set" in (
        result.stderr
    )
