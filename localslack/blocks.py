"""Block Kit checks and lookups: Slack's limits, and finding the element a click targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from localslack.state import JSON, ApiError

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_BUTTON_VALUE = 2000
MAX_MARKDOWN_CHARS = 12_000
MAX_TEXT = 40_000


def check_message(text: Any, blocks: Any) -> None:
    """Reject what real Slack rejects, so a bot that passes here does not fail in production."""
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if blocks is not None:
        check_blocks(blocks, MAX_MESSAGE_BLOCKS)


def check_blocks(blocks: Any, limit: int) -> None:
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise ApiError("invalid_blocks")
    seen: set[str] = set()
    markdown = 0
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ApiError("invalid_blocks")
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                raise ApiError("invalid_blocks")
            seen.add(block_id)
        if block["type"] == "markdown":
            markdown += len(str(block.get("text", "")))
        if block["type"] == "section" and _text_len(block.get("text")) > MAX_SECTION_TEXT:
            raise ApiError("invalid_blocks")
        for element in elements(block):
            if element.get("type") == "button" and len(str(element.get("value", ""))) > (
                MAX_BUTTON_VALUE
            ):
                raise ApiError("invalid_blocks")
    if markdown > MAX_MARKDOWN_CHARS:
        raise ApiError("invalid_blocks")


def _text_len(text: Any) -> int:
    return len(str(text.get("text", ""))) if isinstance(text, dict) else 0


def elements(block: JSON) -> Iterator[JSON]:
    """Interactive elements of a block: an actions block's elements or a section's accessory."""
    for element in block.get("elements") or []:
        if isinstance(element, dict) and "action_id" in element:
            yield element
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and "action_id" in accessory:
        yield accessory


def find_action(blocks: list[JSON] | None, action_id: str) -> tuple[str, JSON]:
    """The (block_id, element) with this action_id; LookupError names what is there instead."""
    found: list[str] = []
    for block in blocks or []:
        for element in elements(block):
            if element["action_id"] == action_id:
                return str(block.get("block_id", "")), element
            found.append(str(element["action_id"]))
    raise LookupError(f"no element with action_id {action_id!r}; the message has {found}")
