"""The thread reporter's pacing: one progress message, edited at a bounded rate."""

from __future__ import annotations

import asyncio

from bot.slack.server import BotHandle
from localslack import LocalSlack
from tests.bot.support import eventually, open_review, root_of, text_at, thread_of


async def test_reporter_paces_progress_edits(bot: BotHandle, slack: LocalSlack) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    await eventually(lambda: open_review(slack, root))
    progress = thread_of(slack, root)[0]
    await eventually(lambda: "*Waiting for a review*" in text_at(slack, progress.ts))
    elapsed = loop.time() - started

    edits = [c for c in slack.calls_to("chat.update") if c.params.get("ts") == progress.ts]
    # Dozens of events reached the reporter; it edited at most once a second, plus the
    # immediate final edit when the review was requested (steps show within 2 s).
    assert 1 <= len(edits) <= int(elapsed) + 2
    posts = [c for c in slack.calls_to("chat.postMessage") if "Working on" in str(c.params)]
    assert len(posts) == 1  # one progress message for the whole run
