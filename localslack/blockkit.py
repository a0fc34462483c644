"""Block Kit as Slack checks it: every block, element and composition object, and views.

Written from Slack's reference (docs.slack.dev: "Blocks", "Block elements",
"Composition objects", "Modal views") so that LocalSlack refuses what Slack refuses.
Each problem names where it is, the way Slack's own answers do:

    [ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]

`message_problems()` checks `blocks` of chat.postMessage, chat.update, chat.postEphemeral
and response_url messages (Slack answers `invalid_blocks`); `view_problems()` checks the
`view` of views.open, views.update, views.push and `response_action` acks (Slack answers
`invalid_arguments`). slack_sdk's models check only some of this (they accept a
`plain_text_input` with `max_length` 4000, which Slack refuses), so the rules live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MARKDOWN_CHARS = 12_000  # all `markdown` blocks of one payload together
MAX_ID = 255  # block_id, action_id, callback_id
MAX_TEXT = 3000  # a text object's text, unless the field says less

ALL_SURFACES = ("message", "modal", "home")


@dataclass
class Checker:
    """Collects problems while walking one payload; `at` is the JSON pointer of the payload."""

    at: str
    surface: str = "message"
    problems: list[str] = field(default_factory=list)
    markdown_chars: int = 0

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(f"{message} [json-pointer:{pointer}]")

    # -- plain values ------------------------------------------------------------------------

    def string(
        self,
        obj: JSON,
        key: str,
        at: str,
        *,
        max_len: int,
        min_len: int = 0,
        required: bool = False,
    ) -> str | None:
        if key not in obj:
            if required:
                self.fail(at, f"missing required field: {key}")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.fail(f"{at}/{key}", "expected string")
            return None
        if len(value) > max_len:
            self.fail(f"{at}/{key}", f"must be less than {max_len + 1} characters")
        if len(value) < min_len:
            self.fail(f"{at}/{key}", f"must be more than {min_len - 1} characters")
        return value

    def integer(self, obj: JSON, key: str, at: str, *, low: int, high: int) -> int | None:
        if key not in obj:
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{at}/{key}", "expected integer")
            return None
        if value > high:
            self.fail(f"{at}/{key}", f"must be less than {high + 1}")
        if value < low:
            self.fail(f"{at}/{key}", f"must be more than {low - 1}")
        return value

    def boolean(self, obj: JSON, key: str, at: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            self.fail(f"{at}/{key}", "expected boolean")

    def one_of(self, obj: JSON, key: str, at: str, allowed: tuple[str, ...]) -> None:
        if key in obj and obj[key] not in allowed:
            self.fail(f"{at}/{key}", f"must be one of: {', '.join(allowed)}")

    def known_fields(self, obj: JSON, at: str, allowed: set[str]) -> None:
        for key in obj:
            if key not in allowed:
                self.fail(f"{at}/{key}", f"unknown field: {key}")

    def array(
        self, obj: JSON, key: str, at: str, *, max_items: int, min_items: int = 1, required: bool
    ) -> list[Any]:
        if key not in obj:
            if required:
                self.fail(at, f"missing required field: {key}")
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.fail(f"{at}/{key}", "expected array")
            return []
        if len(value) > max_items:
            self.fail(f"{at}/{key}", f"must have no more than {max_items} items")
        if len(value) < min_items:
            self.fail(f"{at}/{key}", f"must have at least {min_items} items")
        return value

    def obj(self, value: Any, at: str) -> JSON | None:
        if not isinstance(value, dict):
            self.fail(at, "expected object")
            return None
        return value

    # -- composition objects -----------------------------------------------------------------

    def text(
        self,
        parent: JSON,
        key: str,
        at: str,
        *,
        max_len: int = MAX_TEXT,
        plain_only: bool = False,
        required: bool = False,
    ) -> None:
        """A text object (`plain_text` or `mrkdwn`) at `parent[key]`."""
        if key not in parent:
            if required:
                self.fail(at, f"missing required field: {key}")
            return
        self.text_object(parent[key], f"{at}/{key}", max_len=max_len, plain_only=plain_only)

    def text_object(self, value: Any, at: str, *, max_len: int, plain_only: bool = False) -> None:
        text = self.obj(value, at)
        if text is None:
            return
        kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if text.get("type") not in kinds:
            self.fail(f"{at}/type", f"must be one of: {', '.join(kinds)}")
            return
        self.known_fields(text, at, {"type", "text", "emoji", "verbatim"})
        if text["type"] == "plain_text":
            if "verbatim" in text:
                self.fail(f"{at}/verbatim", "verbatim is only for mrkdwn")
            self.boolean(text, "emoji", at)
        else:
            if "emoji" in text:
                self.fail(f"{at}/emoji", "emoji is only for plain_text")
            self.boolean(text, "verbatim", at)
        self.string(text, "text", at, max_len=max_len, min_len=1, required=True)

    def confirm(self, parent: JSON, at: str) -> None:
        if "confirm" not in parent:
            return
        at = f"{at}/confirm"
        confirm = self.obj(parent["confirm"], at)
        if confirm is None:
            return
        self.known_fields(confirm, at, {"title", "text", "confirm", "deny", "style"})
        self.text(confirm, "title", at, max_len=100, plain_only=True, required=True)
        self.text(confirm, "text", at, max_len=300, required=True)
        self.text(confirm, "confirm", at, max_len=30, plain_only=True, required=True)
        self.text(confirm, "deny", at, max_len=30, plain_only=True, required=True)
        self.one_of(confirm, "style", at, ("primary", "danger"))

    def option(self, value: Any, at: str) -> None:
        option = self.obj(value, at)
        if option is None:
            return
        self.known_fields(option, at, {"text", "value", "description", "url"})
        self.text(option, "text", at, max_len=75, required=True)
        self.string(option, "value", at, max_len=150, min_len=1, required=True)
        self.text(option, "description", at, max_len=75)
        self.string(option, "url", at, max_len=3000)

    # -- elements ----------------------------------------------------------------------------

    def element(self, value: Any, at: str, allowed: tuple[str, ...], action_ids: set[str]) -> None:
        element = self.obj(value, at)
        if element is None:
            return
        kind = element.get("type")
        check = ELEMENTS.get(kind) if isinstance(kind, str) else None
        if check is None or kind not in allowed:
            self.fail(f"{at}/type", "failed to match all allowed schemas")
            return
        action_id = self.string(element, "action_id", at, max_len=MAX_ID, min_len=1)
        if action_id is not None:
            if action_id in action_ids:
                self.fail(f"{at}/action_id", f"duplicate action_id: {action_id}")
            action_ids.add(action_id)
        check(self, element, at)

    # -- blocks ------------------------------------------------------------------------------

    def blocks(self, value: Any, at: str, *, max_blocks: int) -> None:
        if not isinstance(value, list):
            self.fail(at, "expected array")
            return
        if len(value) > max_blocks:
            self.fail(at, f"must have no more than {max_blocks} items")
        block_ids: set[str] = set()
        for index, raw in enumerate(value):
            where = f"{at}/{index}"
            block = self.obj(raw, where)
            if block is None:
                continue
            kind = block.get("type")
            check = BLOCKS.get(kind) if isinstance(kind, str) else None
            if check is None:
                self.fail(f"{where}/type", "failed to match all allowed schemas")
                continue
            surfaces = BLOCK_SURFACES.get(str(kind), ALL_SURFACES)
            if self.surface not in surfaces:
                self.fail(where, f"{kind} blocks are not allowed in a {self.surface}")
            block_id = self.string(block, "block_id", where, max_len=MAX_ID, min_len=1)
            if block_id is not None:
                if block_id in block_ids:
                    self.fail(f"{where}/block_id", f"duplicate block_id: {block_id}")
                block_ids.add(block_id)
            check(self, block, where)
        if self.markdown_chars > MAX_MARKDOWN_CHARS:
            self.fail(
                at, f"markdown blocks must total less than {MAX_MARKDOWN_CHARS + 1} characters"
            )


# -- element rules ---------------------------------------------------------------------------

INTERACTIVE = (
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "overflow",
    "radio_buttons",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "timepicker",
)
INPUTS = (
    *[kind for kind in INTERACTIVE if kind not in ("button", "overflow")],
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
)
ACCESSORIES = (*INTERACTIVE, "image")


def _button(c: Checker, e: JSON, at: str) -> None:
    c.known_fields(
        e,
        at,
        {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"},
    )
    c.text(e, "text", at, max_len=75, plain_only=True, required=True)
    c.string(e, "url", at, max_len=3000, min_len=1)
    c.string(e, "value", at, max_len=2000)
    c.one_of(e, "style", at, ("primary", "danger"))
    c.string(e, "accessibility_label", at, max_len=75, min_len=1)
    c.confirm(e, at)


def _plain_text_input(c: Checker, e: JSON, at: str) -> None:
    c.known_fields(
        e,
        at,
        {
            "type",
            "action_id",
            "initial_value",
            "multiline",
            "min_length",
            "max_length",
            "dispatch_action_config",
            "focus_on_load",
            "placeholder",
        },
    )
    c.string(e, "initial_value", at, max_len=3000)
    c.boolean(e, "multiline", at)
    low = c.integer(e, "min_length", at, low=0, high=3000)
    high = c.integer(e, "max_length", at, low=1, high=3000)
    if low is not None and high is not None and low > high:
        c.fail(f"{at}/min_length", "must not be more than max_length")
    c.boolean(e, "focus_on_load", at)
    c.text(e, "placeholder", at, max_len=150, plain_only=True)


def _options_element(
    max_options: int, min_options: int = 1
) -> Callable[[Checker, JSON, str], None]:
    def check(c: Checker, e: JSON, at: str) -> None:
        groups = "option_groups" in e
        options = c.array(
            e, "options", at, max_items=max_options, min_items=min_options, required=not groups
        )
        for index, option in enumerate(options):
            c.option(option, f"{at}/options/{index}")
        for index, group in enumerate(
            c.array(e, "option_groups", at, max_items=100, required=False)
        ):
            where = f"{at}/option_groups/{index}"
            if (found := c.obj(group, where)) is not None:
                c.text(found, "label", where, max_len=75, plain_only=True, required=True)
                for n, option in enumerate(
                    c.array(found, "options", where, max_items=100, required=True)
                ):
                    c.option(option, f"{where}/options/{n}")
        c.text(e, "placeholder", at, max_len=150, plain_only=True)
        c.confirm(e, at)

    return check


def _image_element(c: Checker, e: JSON, at: str) -> None:
    c.known_fields(e, at, {"type", "image_url", "slack_file", "alt_text"})
    if "image_url" not in e and "slack_file" not in e:
        c.fail(at, "missing required field: image_url")
    c.string(e, "image_url", at, max_len=3000, min_len=1)
    c.string(e, "alt_text", at, max_len=2000, min_len=1, required=True)


def _loose(c: Checker, e: JSON, at: str) -> None:
    """Elements TaskMaster never sends: their common fields only."""
    c.text(e, "placeholder", at, max_len=150, plain_only=True)
    c.confirm(e, at)


ELEMENTS: dict[str, Callable[[Checker, JSON, str], None]] = {
    "button": _button,
    "plain_text_input": _plain_text_input,
    "static_select": _options_element(100),
    "multi_static_select": _options_element(100),
    "overflow": _options_element(5, 1),
    "checkboxes": _options_element(10),
    "radio_buttons": _options_element(10),
    "image": _image_element,
    **{
        kind: _loose
        for kind in (
            "datepicker",
            "datetimepicker",
            "timepicker",
            "external_select",
            "users_select",
            "conversations_select",
            "channels_select",
            "multi_external_select",
            "multi_users_select",
            "multi_conversations_select",
            "multi_channels_select",
            "email_text_input",
            "url_text_input",
            "number_input",
            "rich_text_input",
            "file_input",
        )
    },
}


# -- block rules -----------------------------------------------------------------------------


def _section(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "text", "fields", "accessory", "expand"})
    if "text" not in b and "fields" not in b:
        c.fail(at, "missing required field: text")
    c.text(b, "text", at, max_len=3000)
    for index, item in enumerate(c.array(b, "fields", at, max_items=10, required=False)):
        c.text_object(item, f"{at}/fields/{index}", max_len=2000)
    if "accessory" in b:
        c.element(b["accessory"], f"{at}/accessory", ACCESSORIES, set())
    c.boolean(b, "expand", at)


def _divider(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id"})


def _header(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "text"})
    c.text(b, "text", at, max_len=150, plain_only=True, required=True)


def _context(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "elements"})
    for index, item in enumerate(c.array(b, "elements", at, max_items=10, required=True)):
        where = f"{at}/elements/{index}"
        if isinstance(item, dict) and item.get("type") == "image":
            _image_element(c, item, where)
        else:
            c.text_object(item, where, max_len=MAX_TEXT)


def _actions(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "elements"})
    action_ids: set[str] = set()
    for index, item in enumerate(c.array(b, "elements", at, max_items=25, required=True)):
        c.element(item, f"{at}/elements/{index}", INTERACTIVE, action_ids)


def _image(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "image_url", "slack_file", "alt_text", "title"})
    if "image_url" not in b and "slack_file" not in b:
        c.fail(at, "missing required field: image_url")
    c.string(b, "image_url", at, max_len=3000, min_len=1)
    c.string(b, "alt_text", at, max_len=2000, min_len=1, required=True)
    c.text(b, "title", at, max_len=2000, plain_only=True)


def _input(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(
        b, at, {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"}
    )
    c.text(b, "label", at, max_len=2000, plain_only=True, required=True)
    if "element" not in b:
        c.fail(at, "missing required field: element")
    else:
        c.element(b["element"], f"{at}/element", INPUTS, set())
    c.text(b, "hint", at, max_len=2000, plain_only=True)
    c.boolean(b, "optional", at)
    c.boolean(b, "dispatch_action", at)


def _markdown(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "text"})
    text = c.string(b, "text", at, max_len=MAX_MARKDOWN_CHARS, min_len=1, required=True)
    c.markdown_chars += len(text or "")


RICH_TEXT_PARTS = (
    "rich_text_section",
    "rich_text_list",
    "rich_text_preformatted",
    "rich_text_quote",
)


def _rich_text(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "elements"})
    for index, part in enumerate(c.array(b, "elements", at, max_items=100, required=True)):
        where = f"{at}/elements/{index}"
        found = c.obj(part, where)
        if found is not None and found.get("type") not in RICH_TEXT_PARTS:
            c.fail(f"{where}/type", "failed to match all allowed schemas")


def _file(c: Checker, b: JSON, at: str) -> None:
    c.known_fields(b, at, {"type", "block_id", "external_id", "source"})
    c.string(b, "external_id", at, max_len=255, min_len=1, required=True)
    if b.get("source") != "remote":
        c.fail(f"{at}/source", "must be one of: remote")


BLOCKS: dict[str, Callable[[Checker, JSON, str], None]] = {
    "section": _section,
    "divider": _divider,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "image": _image,
    "input": _input,
    "markdown": _markdown,
    "rich_text": _rich_text,
    "file": _file,
}
BLOCK_SURFACES: dict[str, tuple[str, ...]] = {
    "markdown": ("message",),
    "file": ("message",),
}


# -- payloads --------------------------------------------------------------------------------


def message_problems(blocks: Any, *, at: str = "/blocks") -> list[str]:
    """What Slack would refuse in a message's `blocks` (None means no blocks: fine)."""
    if blocks is None:
        return []
    checker = Checker(at, "message")
    checker.blocks(blocks, at, max_blocks=MAX_MESSAGE_BLOCKS)
    return checker.problems


def view_problems(view: Any, *, at: str = "/view") -> list[str]:
    """What Slack would refuse in a view (a modal or a Home tab)."""
    checker = Checker(at, "modal")
    found = checker.obj(view, at)
    if found is None:
        return checker.problems
    kind = found.get("type")
    if kind not in ("modal", "home"):
        checker.fail(f"{at}/type", "must be one of: modal, home")
        return checker.problems
    checker.surface = str(kind)
    checker.known_fields(
        found,
        at,
        {
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
        },
    )
    if kind == "modal":
        checker.text(found, "title", at, max_len=24, plain_only=True, required=True)
        checker.text(found, "close", at, max_len=24, plain_only=True)
        checker.text(found, "submit", at, max_len=24, plain_only=True)
        checker.boolean(found, "clear_on_close", at)
        checker.boolean(found, "notify_on_close", at)
        checker.boolean(found, "submit_disabled", at)
        blocks = found.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in found:
            checker.fail(f"{at}/blocks", "must define `submit` to use `input` block")
    checker.string(found, "private_metadata", at, max_len=3000)
    checker.string(found, "callback_id", at, max_len=MAX_ID)
    checker.string(found, "external_id", at, max_len=MAX_ID, min_len=1)
    if "blocks" not in found:
        checker.fail(at, "missing required field: blocks")
    else:
        checker.blocks(found["blocks"], f"{at}/blocks", max_blocks=MAX_VIEW_BLOCKS)
    return checker.problems


def input_block_ids(view: JSON) -> set[str]:
    """The block ids of a view's input blocks: the keys a `response_action: errors` may use."""
    return {
        str(b["block_id"])
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input" and "block_id" in b
    }


def elements(block: JSON) -> Iterator[JSON]:
    """Interactive elements of a block: an actions block's elements or a section's accessory."""
    for element in block.get("elements") or []:
        if isinstance(element, dict) and "action_id" in element:
            yield element
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and "action_id" in accessory:
        yield accessory
