"""One line of `chime-bot check`: what was checked, whether it passed, and how to fix it.

Its own module so that every family of checks (bot/ops/check_slack.py, check_aws.py,
policy_report.py) builds the same result without importing the module that runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)
