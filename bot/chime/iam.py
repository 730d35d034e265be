"""The IAM statement the bot's Amazon Chime calls need: one action per operation it calls, each
named as the operation (chime:ListUsers for ListUsers).

Chime's account API has no resource-level permissions, so the statement's resource is "*" and
the action list is the whole of least privilege. `chime-bot init-store --print-policy` prints
it; deploy/chime-bot.yaml's task role and the README carry the same list, and
tests/deploy/test_iam.py derives the operations from the code and fails when any of the four
disagree.
"""

from __future__ import annotations

from typing import Any

CHIME_ACTIONS = (
    "chime:BatchSuspendUser",
    "chime:BatchUnsuspendUser",
    "chime:CreateUser",
    "chime:GetUser",
    "chime:InviteUsers",
    "chime:ListAccounts",
    "chime:ListUsers",
    "chime:LogoutUser",
    "chime:ResetPersonalPIN",
    "chime:UpdateUser",
)


def chime_statement() -> dict[str, Any]:
    return {
        "Sid": "ChimeUserAdministration",
        "Effect": "Allow",
        "Action": list(CHIME_ACTIONS),
        "Resource": "*",
    }
