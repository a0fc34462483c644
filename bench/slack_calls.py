"""Slack Web API calls for one run of 30 tool calls, at several model speeds (issues P4, 15).

Stands up LocalSlack and the bot (its real HTTP endpoint, SQLite, the demo repository)
with a scripted model that makes 30 tool calls, one a turn, and waits a fixed time
before each answer. For each delay it runs `/taskmaster TASK-101` to its review, clicks
Approve, waits for the pull request, and counts every Web API call of that run. The
card is edited when a step starts or ends and on a heartbeat, not per event, so the
count should not grow with the model's latency.

Each surface is measured: `thread` (the progress card), `agent` (Slack's agent
session and streamed task timeline, TASKMASTER_SLACK_SURFACE=agent) and `agent+code`
(with a code channel per run, TASKMASTER_SLACK_CODE_CHANNELS=on).

    .venv/bin/python bench/slack_calls.py [--delays 0,0.5,2] [--surfaces thread,agent,agent+code]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from agent.demo import EXAMPLES, prepare_demo
from agent.deps import Deps
from agent.integrations.scripted_model import ScriptedChatModel
from agent.runs.runtime import open_runtime
from agent.settings import load_settings
from bot.slack import ids
from bot.slack.conversation import BOT_EVENTS
from bot.slack.server import running_bot
from bot.slack.sessions import AGENT_EVENTS
from localslack import LocalSlack

CHANNEL = "C_GENERAL"
TOKEN, SECRET = "xoxb-bench", "bench-secret"
TOOL_CALLS = 30
READS = ["src/tasktrack/models.py", "src/tasktrack/service.py", "tests/test_models.py"]


def thirty_tool_calls() -> list[dict[str, Any]]:
    """TASK-101's demo script, its reading spread over more turns: 30 tool calls in all."""
    demo = json.loads((EXAMPLES / "scripts" / "TASK-101.json").read_text())["turns"]
    plan, edit_code, edit_test, run_tests, finish = demo[0], demo[3], demo[5], demo[6], demo[7]
    tail = [edit_code, edit_test, run_tests, finish]
    reads = TOOL_CALLS - sum(len(turn["tool_calls"]) for turn in tail)
    looks = [
        {
            "content": f"Reading {READS[n % len(READS)]} ({n + 1} of {reads}).",
            "tool_calls": [{"name": "read_file", "args": {"path": READS[n % len(READS)]}}],
        }
        for n in range(reads)
    ]
    return [plan, *looks, *tail]


def slow_model(delay: float) -> Any:
    """The scripted model, answering after `delay` seconds: a model of a given speed."""

    class SlowModel(ScriptedChatModel):
        async def _agenerate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            await asyncio.sleep(delay)
            return await super()._agenerate(messages, stop, run_manager, **kwargs)

    def adjust(deps: Deps) -> Deps:
        scripted = deps.model_for

        def model_for(key: str) -> BaseChatModel:
            model = scripted(key)
            assert isinstance(model, ScriptedChatModel)
            return SlowModel(turns=model.turns, then=model.then)

        return replace(deps, model_for=model_for)

    return partial(open_runtime, adjust=adjust)


def review_in(slack: LocalSlack, root_ts: str) -> Any:
    for message in slack.thread(CHANNEL, root_ts):
        if ids.APPROVE in str(message.blocks):
            return message
    return None


SURFACES = {
    "thread": {},
    "agent": {"TASKMASTER_SLACK_SURFACE": "agent"},
    "agent+code": {"TASKMASTER_SLACK_SURFACE": "agent", "TASKMASTER_SLACK_CODE_CHANNELS": "on"},
}


def finished(slack: LocalSlack, root_ts: str, surface: str) -> bool:
    """The run's last write is there: the card's end, or the session closed."""
    if surface == "thread":
        return any(
            "Finished* (done)" in json.dumps(m.blocks) for m in slack.thread(CHANNEL, root_ts)
        )
    session = slack.session(CHANNEL, root_ts)
    code_done = all(code.archived for code in slack.code_channels)
    return session is not None and session.status == "closed" and code_done


async def one_run(delay: float, surface: str, scratch: Path) -> tuple[Counter[str], float]:
    data_dir = scratch / f"data-{delay}-{surface}"
    scripts = scratch / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "TASK-101.json").write_text(json.dumps(thirty_tool_calls()))
    env = {
        **await prepare_demo(data_dir),
        "TASKMASTER_DATA_DIR": str(data_dir),
        "TASKMASTER_MODEL": f"scripted:{scripts}",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        **SURFACES[surface],
    }
    events = [*BOT_EVENTS, *AGENT_EVENTS]
    async with LocalSlack(bot_token=TOKEN, signing_secret=SECRET, events=events) as slack:
        env["SLACK_API_URL"] = slack.api_url
        settings = load_settings(env, env_file=None)
        async with running_bot(settings, env, runtime=slow_model(delay)) as handle:
            slack.app_url = handle.url
            await slack.slash_command("help")  # Bolt's first auth.test is not the run's
            before = len(slack.calls)
            started = time.perf_counter()
            await slack.slash_command("TASK-101")
            root = await slack.wait_for(lambda: slack.messages(CHANNEL), 30)
            review = await slack.wait_for(lambda: review_in(slack, root[0].ts), 600)
            await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
            await slack.wait_for(lambda: finished(slack, root[0].ts, surface), 120)
            took = time.perf_counter() - started
            await asyncio.sleep(0.5)  # nothing more should come; count it if it does
            calls = Counter(call.method for call in slack.calls[before:])
            assert not slack.refusals, slack.refusals
    return calls, took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="0,0.5,2", help="seconds per model turn")
    parser.add_argument("--surfaces", default=",".join(SURFACES), help="thread, agent, agent+code")
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]
    surfaces = args.surfaces.split(",")
    print("| surface | seconds per model turn | run (s) | Web API calls | by method |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="taskmaster-calls-bench-") as scratch:
        for surface in surfaces:
            for delay in delays:
                calls, took = await one_run(delay, surface, Path(scratch))
                methods = ", ".join(f"{method} {n}" for method, n in calls.most_common())
                total = sum(calls.values())
                print(f"| {surface} | {delay:g} | {took:.0f} | {total} | {methods} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
