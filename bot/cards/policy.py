"""The help card's dry run of the per-account policy: what this person may request, from the
channel they are in, and what they may approve. Account names come from Chime, and the problem
text from Slack or Chime: both reach the card only as plain text (`says`, `plain`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cards.base import Block, context, plain, says, section

MAX_SHOWN = 20  # accounts listed per answer; the rest are counted


@dataclass
class DryRun:
    may_request: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # name, types
    may_approve: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _listed(items: list[str]) -> list[str]:
    more = len(items) - MAX_SHOWN
    return items[:MAX_SHOWN] + ([f"and {more} more"] if more > 0 else [])


def dry_run_blocks(run: DryRun) -> list[Block]:
    requests = [f"{name}: {' or '.join(types)} users" for name, types in run.may_request]
    blocks = [
        section("*From this channel you may request users for:*"),
        says(*_listed(requests)) if requests else context("no account (the policy file's rule)"),
        section("*You may approve requests for:*"),
        says(*_listed(run.may_approve)) if run.may_approve else context("no account"),
    ]
    for problem in run.problems[:3]:
        blocks.append(context(plain(problem)))
    return blocks
