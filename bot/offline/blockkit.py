"""Is a message valid Block Kit? The checks Slack makes before it accepts `blocks`.

slack_sdk's models know most of Slack's limits, but `Block.parse(d).validate_json()` checks one
block's own fields only: it does not descend into the buttons of an actions block or their
confirm dialogs, and it counts code points where Slack's clients count UTF-16 units. So this
walks every element, text object and confirm object, validates each with slack_sdk's model where
there is one, and adds the limits slack_sdk does not check. The figures are from Slack's Block
Kit reference (docs.slack.dev/reference/block-kit/...: blocks, block elements, composition
objects). Where it is silent (how characters are counted, whether whitespace-only text counts as
text) the stricter reading is enforced, so a message passing here is valid under either.

Used by the tests and by the Slack stand-in, which refuses what fails here with `invalid_blocks`
as Slack does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, BlockElement, ConfirmObject

from bot.offline.blockkit_fields import (
    BLOCK_KEYS,
    CONFIRM_KEYS,
    ELEMENT_KEYS,
    OPTION_KEYS,
    PLAIN_OPTIONS,
)
from bot.slack.limits import (
    CONFIRM_LIMITS,
    ELEMENT_TEXT_LIMITS,
    HOME_VIEW_LIMITS,
    MAX_BLOCKS,
    MAX_CALLBACK_ID,
    MAX_FIELD,
    MAX_HEADER,
    MAX_HOME_BLOCKS,
    MAX_ID,
    MAX_INPUT_LENGTH,
    MAX_LABEL,
    MAX_OPTION_TEXT,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    MAX_PLACEHOLDER,
    MAX_PRIVATE_METADATA,
    MAX_TEXT,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_BUTTON,
    units,
)

TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}


def _unknown_keys(where: str, obj: dict[str, Any], known: set[str] | None, what: str) -> list[str]:
    if known is None:
        return []
    return [f"{where}.{key}: not a field of {what}" for key in sorted(set(obj) - known, key=str)]


def message_problems(message: dict[str, Any]) -> list[str]:
    """Everything wrong with a message (`text` and `blocks`), empty if Slack would take it."""
    problems: list[str] = []
    text = message.get("text")
    blocks = message.get("blocks")
    if not blocks and not (isinstance(text, str) and text.strip()):
        problems.append("text: a message without blocks needs text")
    if blocks is None:
        return problems
    return problems + block_problems(blocks)


def block_problems(blocks: object, *, max_blocks: int = MAX_BLOCKS) -> list[str]:
    """`max_blocks`: 50 in a message; a view allows more (see `home_view_problems`)."""
    if not isinstance(blocks, list):
        return ["blocks: must be an array"]
    problems: list[str] = []
    if not 0 < len(blocks) <= max_blocks:
        problems.append(f"blocks: {len(blocks)} blocks; 1 to {max_blocks} allowed")
    block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not an object")
            continue
        problems += _sdk(where, Block.parse, raw)
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"{where}.block_id: {block_id!r} is used twice")
            block_ids.add(str(block_id))
            problems += _id_problems(f"{where}.block_id", block_id)
        problems += _block_contents(where, raw)
    return problems


def _block_contents(where: str, block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    problems = _unknown_keys(where, block, BLOCK_KEYS.get(str(kind)), f"a {kind} block")
    text = block.get("text")
    if kind == "header":
        problems += _text(f"{where}.text", text, MAX_HEADER, plain_only=True)
    elif text is not None:
        problems += _text(f"{where}.text", text, MAX_TEXT)
    for j, item in enumerate(block.get("fields") or []):
        problems += _text(f"{where}.fields[{j}]", item, MAX_FIELD)
    if "accessory" in block:
        problems += _element(f"{where}.accessory", block["accessory"])
    action_ids: set[str] = set()
    for j, element in enumerate(block.get("elements") or []):
        here = f"{where}.elements[{j}]"
        if kind == "context" and isinstance(element, dict) and element.get("type") in TEXT_KEYS:
            problems += _text(here, element, MAX_TEXT)
            continue
        problems += _element(here, element)
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in action_ids:
                problems.append(f"{here}.action_id: {action_id!r} is used twice in this block")
            action_ids.add(str(action_id))
    return problems


def _element(where: str, element: object) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where}: not an object"]
    problems = _sdk(where, BlockElement.parse, element)
    kind = str(element.get("type"))
    problems += _unknown_keys(where, element, ELEMENT_KEYS.get(kind), f"a {kind} element")
    if "placeholder" in element:
        placeholder = element["placeholder"]
        problems += _text(f"{where}.placeholder", placeholder, MAX_PLACEHOLDER, plain_only=True)
    if kind in MAX_OPTIONS and "options" in element:
        problems += _options(where, element, MAX_OPTIONS[kind], plain_only=kind in PLAIN_OPTIONS)
    if "text" in element:
        limit = ELEMENT_TEXT_LIMITS.get(kind, MAX_TEXT)
        problems += _text(f"{where}.text", element["text"], limit, plain_only=kind == "button")
    if "action_id" in element:
        problems += _id_problems(f"{where}.action_id", element["action_id"])
    if "confirm" in element:
        problems += _confirm(f"{where}.confirm", element["confirm"])
    return problems


def _confirm(where: str, confirm: object) -> list[str]:
    if not isinstance(confirm, dict):
        return [f"{where}: not an object"]
    problems = _sdk(where, ConfirmObject.parse, confirm)
    problems += _unknown_keys(where, confirm, CONFIRM_KEYS, "a confirmation dialog")
    for key, limit in CONFIRM_LIMITS.items():
        if key not in confirm:
            problems.append(f"{where}.{key}: required")
            continue
        problems += _text(f"{where}.{key}", confirm[key], limit, plain_only=key != "text")
    return problems


def _text(where: str, obj: object, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: not a text object"]
    kind = obj.get("type")
    if kind not in TEXT_KEYS or (plain_only and kind != "plain_text"):
        allowed = "plain_text" if plain_only else "plain_text or mrkdwn"
        return [f"{where}.type: {kind!r}; must be {allowed}"]
    problems = [f"{where}.{key}: not allowed in {kind}" for key in set(obj) - TEXT_KEYS[kind]]
    for flag in ("emoji", "verbatim"):
        if flag in obj and not isinstance(obj[flag], bool):
            problems.append(f"{where}.{flag}: must be a boolean")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}.text: must be a non-empty string")
    elif units(text) > limit:
        problems.append(f"{where}.text: {units(text)} characters; at most {limit}")
    return problems


def _id_problems(where: str, value: object) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{where}: must be a non-empty string"]
    if units(value) > MAX_ID:
        return [f"{where}: longer than {MAX_ID} characters"]
    return []


def _sdk(where: str, parse: Callable[[Any], Any], obj: dict[str, Any]) -> list[str]:
    try:
        model = parse(obj)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # slack_sdk's models raise, rather than report, on some shapes (a field they do not
        # know, a button without text): Slack refuses those too.
        return [f"{where}: not valid ({type(exc).__name__})"]
    if model is None:
        return [f"{where}: unknown type"]
    try:
        model.validate_json()
    except SlackObjectFormationError as exc:
        return [f"{where}: {exc}"]
    return []


# ---- App Home views ---------------------------------------------------------------------------
# Slack's "Home tab views" reference (docs.slack.dev/reference/views/home-tab-views): `type` is
# "home"; `blocks` at most 100; `private_metadata` at most 3000 characters; `callback_id` at most
# 255; `external_id` a string. Those are the only fields it lists for a home view (`title`,
# `submit`, `close` belong to modals), so anything else is refused: the stricter reading.
# views.publish refuses a view over 250 kB with `view_too_large`
# (bot.offline.blockkit_fields.too_large), which the stand-in answers before these checks.
HOME_VIEW_KEYS = {"type", "blocks", *HOME_VIEW_LIMITS}


def home_view_problems(view: object) -> list[str]:
    """Everything wrong with a `home` view for views.publish, empty if Slack would take it.

    The reference is silent on `external_id`'s length and on whether a home view may have no
    blocks at all: the bot never sends either, and the stricter reading (255, at least one) is
    enforced so a view passing here is valid under any of them."""
    if not isinstance(view, dict):
        return ["view: not an object"]
    problems = [
        f"view.{key}: not a field of a home view" for key in sorted(set(view) - HOME_VIEW_KEYS)
    ]
    if view.get("type") != "home":
        problems.append(f"view.type: {view.get('type')!r}; must be 'home'")
    for key, limit in HOME_VIEW_LIMITS.items():
        value = view.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"view.{key}: must be a string")
        elif units(value) > limit:
            problems.append(f"view.{key}: {units(value)} characters; at most {limit}")
    blocks = view.get("blocks")
    problems += [f"view.{p}" for p in block_problems(blocks, max_blocks=MAX_HOME_BLOCKS)]
    return problems


# ---- modal views ------------------------------------------------------------------------------
# The modal view object's fields and limits, from Slack's reference
# (docs.slack.dev/reference/views/modal-views): `type` "modal"; `title` plain_text, at most 24
# characters, required; `blocks` at most 100, required; `close` and `submit` plain_text, at most
# 24 characters each, `submit` required when the blocks hold an input block; `private_metadata`
# at most 3000 characters; `callback_id` at most 255 characters. The input block and its
# elements: docs.slack.dev/reference/block-kit/blocks/input-block (`label` plain_text up to 2000,
# `hint` up to 2000, `element` required, `optional` boolean) and .../block-elements/
# (plain_text_input: `min_length` 0-3000, `max_length` 1-3000, placeholder up to 150;
# static_select: up to 100 options, an option's text plain_text up to 75 and its value up to
# 150; radio_buttons: up to 10 options). Where the reference is silent (whether an
# `initial_option` absent from `options` is refused, whether an `initial_value` longer than
# `max_length` is), the stricter reading is enforced here too.
INPUT_ELEMENTS = {
    "plain_text_input",
    "email_text_input",
    "static_select",
    "conversations_select",
    "channels_select",
    "users_select",
    "radio_buttons",
    "checkboxes",
}
MODAL_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
}


def modal_problems(view: object) -> list[str]:
    """Everything wrong with a modal view object, empty if views.open/update would take it."""
    if not isinstance(view, dict):
        return ["view: not an object"]
    problems = [f"view.{key}: not a field of a modal view" for key in set(view) - MODAL_KEYS]
    if view.get("type") != "modal":
        problems.append(f"view.type: {view.get('type')!r}; must be 'modal'")
    if "title" not in view:
        problems.append("view.title: required")
    for key in ("title", "submit", "close"):
        if key in view:
            problems += _text(f"view.{key}", view[key], MAX_VIEW_BUTTON, plain_only=True)
    for key, limit in (
        ("private_metadata", MAX_PRIVATE_METADATA),
        ("callback_id", MAX_CALLBACK_ID),
    ):
        value = view.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"view.{key}: must be a string")
        elif value is not None and units(value) > limit:
            problems.append(f"view.{key}: {units(value)} characters; at most {limit}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "view.blocks: required, an array"]
    if len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"view.blocks: {len(blocks)} blocks; at most {MAX_VIEW_BLOCKS}")
    inputs = [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
    if inputs and "submit" not in view:
        problems.append("view.submit: required when the view holds an input block")
    for i, block in enumerate(blocks):
        where = f"view.blocks[{i}]"
        try:
            if isinstance(block, dict) and block.get("type") == "input":
                problems += _input_block(where, block)
            else:  # the message rules, one block at a time (a view has its own count limit)
                problems += [p.replace("blocks[0]", where, 1) for p in block_problems([block])]
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # slack_sdk's models raise, rather than report, on some shapes (a button without
            # text): that is a view Slack refuses too.
            problems.append(f"{where}: not a valid block ({type(exc).__name__})")
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and "block_id" in b]
    if len(ids) != len(set(map(str, ids))):
        problems.append("view.blocks: a block_id is used twice")
    return problems


def _input_block(where: str, block: dict[str, Any]) -> list[str]:
    element = block.get("element")
    if not isinstance(element, dict) or element.get("type") not in INPUT_ELEMENTS:
        return [f"{where}.element: required, one of the input elements"]
    problems = _sdk(where, Block.parse, block)
    problems += _text(f"{where}.label", block.get("label"), MAX_LABEL, plain_only=True)
    if "hint" in block:
        problems += _text(f"{where}.hint", block["hint"], MAX_LABEL, plain_only=True)
    if "block_id" in block:
        problems += _id_problems(f"{where}.block_id", block["block_id"])
    for flag in ("optional", "dispatch_action"):
        if flag in block and not isinstance(block[flag], bool):
            problems.append(f"{where}.{flag}: must be a boolean")
    here = f"{where}.element"
    problems += _unknown_keys(where, block, BLOCK_KEYS["input"], "an input block")
    problems += _element(here, element)
    kind = element["type"]
    if kind == "plain_text_input":
        problems += _input_lengths(here, element)
    if kind in MAX_OPTIONS and "options" not in element:
        problems.append(f"{here}.options: 1 to {MAX_OPTIONS[kind]} options")
    return problems


def _input_lengths(where: str, element: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    low, high = element.get("min_length", 0), element.get("max_length", MAX_INPUT_LENGTH)
    if not isinstance(low, int) or not 0 <= low <= MAX_INPUT_LENGTH:
        problems.append(f"{where}.min_length: an integer from 0 to {MAX_INPUT_LENGTH}")
    if not isinstance(high, int) or not 1 <= high <= MAX_INPUT_LENGTH:
        problems.append(f"{where}.max_length: an integer from 1 to {MAX_INPUT_LENGTH}")
    elif isinstance(low, int) and low > high:
        problems.append(f"{where}: min_length is more than max_length")
    initial = element.get("initial_value")
    if initial is not None and (not isinstance(initial, str) or units(initial) > high):
        problems.append(f"{where}.initial_value: a string within max_length")
    return problems


def _options(where: str, element: dict[str, Any], most: int, *, plain_only: bool) -> list[str]:
    options = element.get("options")
    if not isinstance(options, list) or not 0 < len(options) <= most:
        return [f"{where}.options: 1 to {most} options"]
    problems: list[str] = []
    for j, option in enumerate(options):
        if not isinstance(option, dict):
            problems.append(f"{where}.options[{j}]: not an object")
            continue
        here = f"{where}.options[{j}]"
        problems += _unknown_keys(here, option, OPTION_KEYS, "an option")
        problems += _text(
            f"{here}.text", option.get("text"), MAX_OPTION_TEXT, plain_only=plain_only
        )
        value = option.get("value")
        if not isinstance(value, str) or not value or units(value) > MAX_OPTION_VALUE:
            problems.append(f"{where}.options[{j}].value: 1 to {MAX_OPTION_VALUE} characters")
    initial = element.get("initial_option")
    if initial is not None and initial not in options:
        problems.append(f"{where}.initial_option: not one of the options")
    return problems
