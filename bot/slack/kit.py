"""Small Block Kit constructors over slack_sdk's models, returning plain JSON.

Building through the models means `to_dict()` checks Slack's limits as each block is
made, so a message that would be refused fails here, in the code that built it, and
not later as an `invalid_blocks` from Slack. Callers clip their text first.
"""

from __future__ import annotations

from typing import Any, Literal

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.mrkdwn import clip

JSON = dict[str, Any]
Message = tuple[str, list[JSON]]
"""A message as posted: the notification text (also the fallback) and the blocks."""

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
MAX_BLOCKS = 50


def section(text: str, *, block_id: str | None = None) -> JSON:
    return SectionBlock(
        text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)), block_id=block_id
    ).to_dict()


def context(*texts: str, block_id: str | None = None) -> JSON:
    elements = [MarkdownTextObject(text=clip(text, CONTEXT_LIMIT)) for text in texts]
    return ContextBlock(elements=elements, block_id=block_id).to_dict()


def header(text: str) -> JSON:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT))).to_dict()


def divider() -> JSON:
    return DividerBlock().to_dict()


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: Literal["primary", "danger"] | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT_LIMIT)),
        action_id=action_id,
        value=value,
        style=style,
        confirm=confirm,
    )


def actions(*buttons: ButtonElement, block_id: str) -> JSON:
    return ActionsBlock(elements=list(buttons), block_id=block_id).to_dict()


def confirm(title: str, text: str, yes: str, no: str = "Back") -> ConfirmObject:
    return ConfirmObject(
        title=PlainTextObject(text=title),
        text=MarkdownTextObject(text=text),
        confirm=PlainTextObject(text=yes),
        deny=PlainTextObject(text=no),
        style="danger",
    )
