"""Slack's Block Kit limits, and how Slack counts a text's length: one definition for the cards
that must fit them and for the validator (bot/offline/blockkit.py) that holds messages to them.

The figures are from Slack's Block Kit reference (docs.slack.dev/reference/block-kit/...: blocks,
block elements, composition objects), its views reference (docs.slack.dev/reference/views/
home-tab-views and .../modal-views) and the chat.postMessage reference for `text`. Every length
is in UTF-16 code units, never fewer than code points: whichever Slack counts, a text that fits
here fits there.
"""

from __future__ import annotations

# ---- messages and blocks ---------------------------------------------------------------------
MAX_BLOCKS = 50  # per message
MAX_TEXT = 3000  # any text object (section text, context element)
MAX_FIELD = 2000  # one section field
MAX_FIELDS = 10  # per section
MAX_HEADER = 150  # a header block's text
MAX_ID = 255  # block_id, action_id
# Slack asks for a message's fallback `text` within 4,000 characters (it truncates past 40,000).
MAX_FALLBACK = 4000
# A confirm dialog's four parts, all required and all plain_text but `text`.
CONFIRM_LIMITS = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
ELEMENT_TEXT_LIMITS = {"button": 75}
MAX_CONFIRM_TEXT = CONFIRM_LIMITS["text"]
MAX_BUTTON_TEXT = ELEMENT_TEXT_LIMITS["button"]

# ---- App Home views --------------------------------------------------------------------------
# `type` "home"; `blocks` at most 100; `private_metadata` at most 3000 characters; `callback_id`
# at most 255; `external_id` a string (its length unstated: 255, the stricter reading).
MAX_HOME_BLOCKS = 100
HOME_VIEW_LIMITS = {"private_metadata": 3000, "callback_id": 255, "external_id": 255}

# ---- modal views -----------------------------------------------------------------------------
# `title` plain_text, at most 24 characters; `blocks` at most 100; `close` and `submit` at most
# 24; `private_metadata` at most 3000; `callback_id` at most 255. Input blocks: `label` and `hint`
# up to 2000; plain_text_input `min_length` 0-3000, `max_length` 1-3000, placeholder up to 150;
# static_select up to 100 options, an option's text up to 75 and its value up to 150;
# radio_buttons up to 10 options.
MAX_VIEW_BLOCKS = 100
MAX_VIEW_BUTTON = 24  # title, submit, close
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_INPUT_LENGTH = 3000
MAX_OPTIONS = {"static_select": 100, "radio_buttons": 10}


def units(text: str) -> int:
    """Length in UTF-16 code units: what a JavaScript client would count."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
