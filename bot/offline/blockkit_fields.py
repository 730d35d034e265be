"""The fields Slack's Block Kit reference gives each block, element and composition object, and
the size limit of a view: the tables bot/offline/blockkit.py checks against, and the stand-in's
`view_too_large` (bot/offline/standin_views.py, bot/offline/standin_home.py).
"""

from __future__ import annotations

import json

# Each block's and element's fields, as its page of the Block Kit reference lists them
# (docs.slack.dev/reference/block-kit/blocks/<kind>-block and .../block-elements/<kind>-element):
# a field not listed is refused (Slack answers invalid_blocks for "additional properties" it
# does not know, the stricter reading where a page is silent). Kinds the bot never sends, and
# so not listed here, are left to slack_sdk's models.
BLOCK_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "actions": {"type", "block_id", "elements"},
    "context": {"type", "block_id", "elements"},
    "divider": {"type", "block_id"},
    "header": {"type", "block_id", "text"},
    "input": {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"},
    "image": {"type", "block_id", "image_url", "slack_file", "alt_text", "title"},
}
_SELECT = {"type", "action_id", "confirm", "focus_on_load", "placeholder"}
_TEXT_INPUT = {"type", "action_id", "initial_value", "dispatch_action_config", "focus_on_load"}
ELEMENT_KEYS = {
    "button": {"type", "text", "action_id", "url", "value", "style", "confirm"}
    | {"accessibility_label"},
    "static_select": _SELECT | {"options", "option_groups", "initial_option"},
    "conversations_select": _SELECT
    | {"initial_conversation", "default_to_current_conversation", "response_url_enabled"}
    | {"filter"},
    "channels_select": _SELECT | {"initial_channel", "response_url_enabled"},
    "users_select": _SELECT | {"initial_user"},
    "plain_text_input": _TEXT_INPUT | {"multiline", "min_length", "max_length", "placeholder"},
    "email_text_input": _TEXT_INPUT | {"placeholder"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm"}
    | {"focus_on_load"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm"}
    | {"focus_on_load"},
    "overflow": {"type", "action_id", "options", "confirm"},
    "image": {"type", "image_url", "slack_file", "alt_text"},
}
# The option object (docs.slack.dev/reference/block-kit/composition-objects/option-object) and
# the confirmation dialog object (.../confirmation-dialog-object).
OPTION_KEYS = {"text", "value", "description", "url"}
CONFIRM_KEYS = {"title", "text", "confirm", "deny", "style"}
# Select menus take plain_text only in their options' `text` ("can only be of type:
# plain_text" in .../block-elements/select-menu-element); radio buttons and checkboxes take
# mrkdwn there too. Every element's `placeholder` is "a plain_text only text object".
PLAIN_OPTIONS = {"static_select", "overflow"}
# views.open, views.update and views.publish answer view_too_large for a view "greater than
# 250kb" (docs.slack.dev/reference/methods/views.open, .../views.update, .../views.publish):
# measured here as the view's JSON in UTF-8 (the reference does not say how it counts; UTF-8
# is how the bytes travel).
MAX_VIEW_BYTES = 250_000


def too_large(view: object) -> bool:
    return len(json.dumps(view, ensure_ascii=False).encode()) > MAX_VIEW_BYTES
