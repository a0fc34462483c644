"""A code channel per run (TASKMASTER_SLACK_CODE_CHANNELS=on, with the agent surface).

Slack Code's channels (`agents.conversations.*`): made from the run's root message
(idempotent by the run id as `session_id`, so a restart finds the same channel), a
context bar kept current (ticket, review, tokens, pull request), the review's diff as
the channel's diff tab (the very `ReviewRequest.diff` whose hash the buttons approve;
each review replaces the tab, under one `view_key`), the agent commands `/approve`,
`/request-changes` and `/cancel` (through the same claims as the buttons), and an
archive with a summary message when the run ends.

The commands' listeners are in `code_commands.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.models import ReviewRequest
from bot.slack.agent_surface import REFUSALS, AgentRefused
from bot.slack.mrkdwn import clip
from bot.slack.runview import RunView

log = logging.getLogger(__name__)

DIFF_VIEW = "review"  # one diff tab per run: a new review replaces it
APPROVE, REVISE, CANCEL = "approve", "request-changes", "cancel"
COMMANDS = (
    {"name": APPROVE, "description": "Approve the change under review: push it, open the PR"},
    {
        "name": REVISE,
        "description": "Ask for changes to the change under review",
        "argument_hint": "what to change",
    },
    {"name": CANCEL, "description": "Stop this run; nothing is pushed"},
)


@dataclass
class CodeRun:
    """A run's code channel, once made."""

    channel: str | None = None
    archived: bool = False


class CodeChannelWriter:
    """The code channel's Slack calls for a run; the reporter's outbox orders them."""

    def __init__(self, client: Callable[[], AsyncWebClient]) -> None:
        self._client = client

    async def open(self, view: RunView, code: CodeRun) -> None:
        made = await _call(
            "agents.conversations.create",
            self._client().agents_conversations_create(
                name=clip(f"{view.ticket} {view.title or ''}".strip(), 80),
                session_id=view.run_id,
                origin_channel_id=view.channel,
                origin_message_ts=view.root_ts,
            ),
        )
        code.channel = str(made["channel_id"])
        await _call(
            "agents.conversations.setCommands",
            self._client().agents_conversations_setCommands(
                channel_id=code.channel, commands=list(COMMANDS)
            ),
        )
        await self.context(view, code)

    async def context(self, view: RunView, code: CodeRun) -> None:
        """The context bar: what the run is about and where it stands."""
        if code.channel is None:
            return
        items: list[dict[str, Any]] = [{"text": clip(f"{view.ticket}: {view.title or ''}", 100)}]
        if view.reviews:
            items.append({"text": f"Review {view.reviews}"})
        if view.tokens is not None:
            items.append({"text": f"{view.tokens:,} tokens"})
        if view.pull_request is not None:
            items.append({"text": f"PR #{view.pull_request.number}", "url": view.pull_request.url})
            items.append({"text": view.pull_request.branch})
        await _call(
            "agents.conversations.setProperties",
            self._client().agents_conversations_setProperties(
                channel_id=code.channel, code_channel={"context_bar_items": items[:5]}
            ),
        )

    async def show_diff(self, view: RunView, code: CodeRun, request: ReviewRequest) -> None:
        """The review's diff in the diff tab: exactly the text whose hash Approve binds."""
        if code.channel is None or not request.diff.strip():
            return
        await _call(
            "agents.conversations.setView",
            self._client().agents_conversations_setView(
                channel_id=code.channel,
                type="diff",
                view_key=DIFF_VIEW,
                content=request.diff,
                name=f"Review {request.iteration}",
            ),
        )
        await self.context(view, code)

    async def close(self, view: RunView, code: CodeRun, summary: str) -> None:
        """Say how the run ended in the channel, then archive it with that summary."""
        if code.channel is None or code.archived:
            return
        await self.context(view, code)
        posted = await self._client().chat_postMessage(channel=code.channel, text=summary)
        await _call(
            "agents.conversations.archive",
            self._client().agents_conversations_archive(
                channel_id=code.channel, summary_message_ts=str(posted["ts"])
            ),
        )
        code.archived = True


async def _call(method: str, call: Any) -> Any:
    try:
        return await call
    except SlackApiError as error:
        code = str(error.response.get("error", ""))
        if code in REFUSALS:
            raise AgentRefused(method, code) from error
        raise
