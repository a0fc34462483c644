"""Slack's three seconds: commands and clicks are acked at once while the model is slow."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    reviews_in,
    root_of,
    text_at,
    thread_of,
)

FAST = 1.0  # well inside Slack's 3 s
PLAN = {
    "name": "submit_plan",
    "args": {"summary": "Search the repository.", "modules": [], "steps": ["Search"]},
}


async def test_ack_is_immediate_while_model_is_slow(start_bot: StartBot, slack: LocalSlack) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate)):
        first = await slack.slash_command("TASK-101")
        assert first.status == 200 and first.elapsed < FAST

        await eventually(gate.waiting.is_set, what="the model to be called")
        root = root_of(slack, "TASK-101")
        progress = await eventually(lambda: thread_of(slack, root)[0])
        await eventually(lambda: ":arrow_forward: *Plan*" in block_text(progress))

        # The model is still thinking: more commands are answered at once all the same.
        second = await slack.slash_command("TASK-102", user="U_BEN")
        status = await slack.slash_command("status", user="U_CHO")
        busy = await slack.slash_command("TASK-101", user="U_CHO")
        for result in (second, status, busy):
            assert result.status == 200 and result.elapsed < FAST
        await eventually(lambda: root_of(slack, "TASK-102"))
        await eventually(lambda: [e for e in slack.ephemerals if "already has" in e.text])
        assert not gate.opened.is_set()

        gate.open()
        await eventually(lambda: open_review(slack, root), within=30)
        await eventually(lambda: open_review(slack, root_of(slack, "TASK-102")), within=30)
        await eventually(lambda: "Awaiting review" in text_at(slack, root.ts))
        assert_valid_block_kit(slack)


async def test_a_catastrophic_search_pattern_stalls_nothing(
    start_bot: StartBot, slack: LocalSlack, tmp_path: Path
) -> None:
    """`(a+)+$` over long lines of a's takes a backtracking engine hours; with RE2 the
    search returns at once and the bot keeps answering meanwhile."""
    big = ("a" * 5000 + "b\n") * 400
    turns = [
        {"content": "Plan.", "tool_calls": [PLAN]},
        {
            "content": "Searching.",
            "tool_calls": [
                {"name": "write_file", "args": {"path": "big.txt", "content": big}},
                *[{"name": "search_code", "args": {"pattern": "(a+)+$"}} for _ in range(3)],
            ],
        },
        {"content": "Done.", "tool_calls": [{"name": "finish", "args": {"summary": "Searched."}}]},
    ]
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "TASK-101.json").write_text(json.dumps(turns))
    async with (
        start_bot(TASKMASTER_MODEL=f"scripted:{scripts}") as bot,
        aiohttp.ClientSession() as http,
    ):
        started = await slack.slash_command("TASK-101")
        assert started.status == 200
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        async with asyncio.timeout(60):
            while not reviews_in(slack, root):
                began = time.monotonic()
                async with http.get(bot.health_url) as health:
                    assert health.status == 200
                assert time.monotonic() - began < FAST
                status = await slack.slash_command("status", user="U_CHO")
                assert status.status == 200 and status.elapsed < FAST
        assert "big.txt" in block_text(reviews_in(slack, root)[0])
