"""Helpers for the Slack end-to-end tests: condition waits and readers of LocalSlack's state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as ViewModel

from agent.git import git
from bot.slack import ids
from localslack import LocalSlack, Message

T = TypeVar("T")

CHANNEL = "C_GENERAL"


async def eventually(
    check: Callable[[], T], *, within: float = 20.0, what: str = "the condition"
) -> T:
    """Poll `check` until it returns something truthy (an AssertionError means "not yet")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: AssertionError | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as error:
            last = error
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}") from last
        await asyncio.sleep(0.02)


def root_of(slack: LocalSlack, ticket: str, channel: str = CHANNEL) -> Message:
    """The root message of the latest run of `ticket` in the channel."""
    roots = [m for m in slack.messages(channel) if m.text.startswith(f"{ticket}:")]
    assert roots, f"no root message for {ticket}"
    return roots[-1]


def thread_of(slack: LocalSlack, root: Message) -> list[Message]:
    return slack.thread(root.channel, root.ts)


def action_ids(message: Message) -> list[str]:
    found = []
    for block in message.blocks or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "action_id" in element:
                found.append(element["action_id"])
    return found


def reviews_in(slack: LocalSlack, root: Message) -> list[Message]:
    """Review request messages of the thread, oldest first."""
    return [
        m
        for m in thread_of(slack, root)
        if any(b.get("type") == "header" and "Review" in str(b) for b in m.blocks or [])
    ]


def open_review(slack: LocalSlack, root: Message, iteration: int = 1) -> Message:
    """The review message of `iteration` once it is posted with its buttons."""
    reviews = reviews_in(slack, root)
    assert len(reviews) >= iteration, f"review {iteration} not posted yet"
    review = reviews[iteration - 1]
    assert ids.APPROVE in action_ids(review)
    return review


async def delete_message(slack: LocalSlack, message: Message, channel: str = CHANNEL) -> None:
    """Delete a message the bot posted, as the bot would (`chat.delete`): a message lost."""
    async with aiohttp.ClientSession() as http:
        gone = await http.post(
            slack.api_url + "chat.delete",
            data={"channel": channel, "ts": message.ts},
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        )
        assert (await gone.json())["ok"]


def block_text(message: Message) -> str:
    """Every text of a message's blocks, joined: what a person reads."""
    return json.dumps(message.blocks or [], ensure_ascii=False) + "\n" + message.text


def text_at(slack: LocalSlack, ts: str, channel: str = CHANNEL) -> str:
    """What the message at `ts` says now (messages are edited in place)."""
    return block_text(slack.message(channel, ts))


def thread_text(slack: LocalSlack, root: Message) -> str:
    return "\n".join(block_text(m) for m in thread_of(slack, root))


def pull_requests(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "pull_requests.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def remote_branches(remote: Path) -> list[str]:
    out = await git("branch", "--list", "--format=%(refname:short)", "taskmaster/*", cwd=remote)
    return [line.strip() for line in out.splitlines() if line.strip()]


def assert_valid_block_kit(slack: LocalSlack) -> None:
    """Every block and view the bot sent parses with slack_sdk's models, and round-trips."""
    sent = [call.params for call in slack.calls if call.ok] + list(slack.responses)
    checked = 0
    for params in sent:
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        checked += check_blocks(blocks or [])
        view = params.get("view")
        if view:
            view = json.loads(view) if isinstance(view, str) else view
            model = ViewModel(**view)
            model.validate_json()
            checked += check_blocks(view.get("blocks", []))
    assert checked, "no Block Kit was sent at all"


def check_blocks(blocks: Iterable[dict[str, Any]]) -> int:
    """Parse, validate and round-trip each block with slack_sdk's models; how many."""
    count = 0
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, f"unknown block: {raw}"
        block.validate_json()
        assert block.to_dict() == raw, f"block does not round-trip: {raw}"
        count += 1
    return count
