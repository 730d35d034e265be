"""Every card and view the bot shows, as pure functions from its data to Block Kit, through the
one rendering path for untrusted text. Nothing here talks to Slack or Chime.

What other packages use is exported here: the primitives of that one path (bot/cards/base.py),
and each card and view. Modules inside this package import each other by module path, never
through this file. The two views' `CALLBACK_ID`s (bot/cards/form.py, bot/cards/home.py) share a
name and are imported from their modules.
"""

from bot.cards.approval import ActionId, BlockId, approval_card, approvals_missing, status_word
from bot.cards.base import (
    Block,
    HelpEntry,
    HelpGroup,
    Reply,
    approvers_block,
    clean,
    context,
    epoch_date,
    error_card,
    escape,
    help_card,
    literal,
    not_found_card,
    plain,
    says,
    section,
    slack_date,
    user_card,
)
from bot.cards.batch import (
    batch_card,
    batch_filed_note,
    batch_outcome_note,
    lead_of,
    nothing_filed_note,
)
from bot.cards.errors import error_reply, reply_for
from bot.cards.form import (
    SHORTCUT_ID,
    Field,
    Origin,
    Sealer,
    Submitted,
    form_view,
    loading_view,
    message_view,
    read_submission,
    requestable_accounts,
    requestable_anywhere,
)
from bot.cards.home import home_view
from bot.cards.notes import (
    already_approved_note,
    decided_already_note,
    duplicate_note,
    exists_note,
    filed_note,
    outcome_note,
    progress_note,
)
from bot.cards.pending import pending_list
from bot.cards.policy import DryRun, dry_run_blocks

__all__ = [
    "SHORTCUT_ID",
    "ActionId",
    "Block",
    "BlockId",
    "DryRun",
    "Field",
    "HelpEntry",
    "HelpGroup",
    "Origin",
    "Reply",
    "Sealer",
    "Submitted",
    "already_approved_note",
    "approval_card",
    "approvals_missing",
    "approvers_block",
    "batch_card",
    "batch_filed_note",
    "batch_outcome_note",
    "clean",
    "context",
    "decided_already_note",
    "dry_run_blocks",
    "duplicate_note",
    "epoch_date",
    "error_card",
    "error_reply",
    "escape",
    "exists_note",
    "filed_note",
    "form_view",
    "help_card",
    "home_view",
    "lead_of",
    "literal",
    "loading_view",
    "message_view",
    "not_found_card",
    "nothing_filed_note",
    "outcome_note",
    "pending_list",
    "plain",
    "progress_note",
    "read_submission",
    "reply_for",
    "requestable_accounts",
    "requestable_anywhere",
    "says",
    "section",
    "slack_date",
    "status_word",
    "user_card",
]
