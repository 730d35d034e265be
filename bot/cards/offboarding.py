"""The approval channel's note when a deactivated Slack user's Chime account is managed by a
directory (issue 21, offboarding): the bot cannot suspend such a user, the directory must.

The mention is of a Slack-issued user ID (checked by `user_ref`); the address and the account's
name and type come from Chime and Slack, so they go through the plain-text path."""

from __future__ import annotations

from bot.cards.approval import user_ref
from bot.cards.base import context, literal, says, section
from bot.models import Account
from bot.slack.message import Reply


def directory_note(slack_user: str, email: str, account: Account) -> Reply:
    """Someone left Slack whose Chime user lives in a directory-linked account."""
    blocks = [
        section(f":warning: *Offboarding:* {user_ref(slack_user)} was deactivated in Slack."),
        says(
            f"Their Amazon Chime user {email} is in the account {account.name} "
            f"({account.account_type}), whose users are managed in its directory, so the bot "
            "cannot suspend them. Disable or remove them in the directory."
        ),
        context("Nothing was filed and nothing was changed in Amazon Chime."),
    ]
    text = (
        f"Offboarding: {literal(email)} is in the directory-linked account "
        f"{literal(account.name)}: the directory must remove them"
    )
    return Reply(text=text, blocks=blocks)
