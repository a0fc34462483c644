"""Checks of what an app sends (messages, views), and finding the element a click targets.

The rules themselves are in `localslack.blockkit`; this module turns a problem into
the error Slack answers with.
"""

from __future__ import annotations

from typing import Any

from localslack.blockkit import elements, message_problems, view_problems
from localslack.state import JSON, ApiError

MAX_TEXT = 40_000  # chat.postMessage: longer text is refused with msg_too_long

__all__ = ["MAX_TEXT", "check_message", "check_view", "elements", "find_action"]


def check_message(text: Any, blocks: Any, *, at: str = "/blocks") -> None:
    """Refuse what Slack refuses in a message, so a bot that passes here passes in Slack."""
    if text is not None and not isinstance(text, str):
        raise ApiError("invalid_arguments", ["expected string [json-pointer:/text]"])
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if blocks is not None and not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    problems = message_problems(blocks, at=at)
    if problems:
        raise ApiError("invalid_blocks", problems)


def check_view(view: Any, *, at: str = "/view") -> JSON:
    """The view, or `invalid_arguments` with Slack's messages when Slack would refuse it."""
    problems = view_problems(view, at=at)
    if problems:
        raise ApiError("invalid_arguments", problems)
    assert isinstance(view, dict)  # view_problems() reports anything else
    return view


def find_action(blocks: list[JSON] | None, action_id: str) -> tuple[str, JSON]:
    """The (block_id, element) with this action_id; LookupError names what is there instead."""
    found: list[str] = []
    for block in blocks or []:
        for element in elements(block):
            if element["action_id"] == action_id:
                return str(block.get("block_id", "")), element
            found.append(str(element["action_id"]))
    raise LookupError(f"no element with action_id {action_id!r}; the message has {found}")
