"""The Slack bot over loopback: ack latency, click-to-update latency, Web API calls per run.

Stands up LocalSlack and the bot's real HTTP endpoint (signed requests, SQLite, the
demo repository and the scripted model), then measures:

1. slash-command ack latency, p50 and p99, with 50 commands in flight at once;
2. click-to-first-thread-update latency, p95: from posting an Approve click until the
   first Web API call that changes the run's thread (the "Approved by" edit);
3. Slack Web API calls for one demo run, command to pull request, by method.

    .venv/bin/python bench/slack_bot.py [--clicks N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent.demo import prepare_demo
from agent.settings import load_settings
from bot.slack import ids
from bot.slack.server import running_bot
from localslack import LocalSlack

CHANNEL = "C_GENERAL"
TOKEN, SECRET = "xoxb-bench", "bench-secret"
THREAD_METHODS = {"chat.postMessage", "chat.update"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def root_of(slack: LocalSlack, key: str, after: int) -> Any:
    roots = [m for m in slack.messages(CHANNEL) if key in (m.text or "")]
    return roots[after] if len(roots) > after else None


def ask_in(slack: LocalSlack, ephemerals: list[Any]) -> Any:
    return next((e for e in ephemerals if ids.START_ANYWAY in str(e.blocks)), None)


def review_in(slack: LocalSlack, root_ts: str) -> Any:
    for message in slack.thread(CHANNEL, root_ts):
        if ids.APPROVE in str(message.blocks):
            return message
    return None


async def ack_latency(slack: LocalSlack, in_flight: int) -> list[float]:
    keys = [f"LOAD-{n}" for n in range(1, in_flight + 1)]  # no such tickets: each is refused
    results = await asyncio.gather(*(slack.slash_command(key) for key in keys))
    assert all(result.status == 200 for result in results)
    return [result.elapsed for result in results]


async def one_click(slack: LocalSlack, key: str, nth: int) -> tuple[float, int]:
    """Run `key` to its review, click Approve; (seconds to first thread update, calls)."""
    calls_before = len(slack.calls)
    asked = len(slack.ephemerals)
    await slack.slash_command(key)
    # A ticket delivered before asks first (its pull request is still open): start anyway.
    found = await slack.wait_for(
        lambda: root_of(slack, key, nth) or ask_in(slack, slack.ephemerals[asked:]), 30
    )
    if not hasattr(found, "reply_count"):
        await slack.click(CHANNEL, found.message_ts, ids.START_ANYWAY, user="U_ANA")
    root = await slack.wait_for(lambda: root_of(slack, key, nth), 30)
    review = await slack.wait_for(lambda: review_in(slack, root.ts), 60)
    seen = len(slack.calls)
    started = time.perf_counter()
    await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_ANA")
    await slack.wait_for(
        lambda: any(
            call.method in THREAD_METHODS
            and call.params.get("channel") == CHANNEL
            and root.ts in (call.params.get("ts"), call.params.get("thread_ts"))
            for call in slack.calls[seen:]
        ),
        30,
    )
    latency = time.perf_counter() - started
    await slack.wait_for(lambda: "Done" in str(slack.message(CHANNEL, root.ts).blocks), 60)
    return latency, len(slack.calls) - calls_before


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskmaster-slack-bench-") as scratch:
        data_dir = Path(scratch) / "data"
        env = {
            **await prepare_demo(data_dir),
            "TASKMASTER_DATA_DIR": str(data_dir),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        slack = LocalSlack(bot_token=TOKEN, signing_secret=SECRET)
        await slack.start()
        env["SLACK_API_URL"] = slack.api_url
        settings = load_settings(env, env_file=None)
        try:
            async with running_bot(settings, env) as handle:
                slack.app_url = handle.url
                acks = await ack_latency(slack, args.in_flight)
                store = handle.bot.manager.store
                while await store.recent(active_only=True):  # noqa: ASYNC110 - let them end
                    await asyncio.sleep(0.05)
                clicks, per_run = [], []
                for n in range(args.clicks):
                    key = ("TASK-101", "TASK-102")[n % 2]
                    latency, calls = await one_click(slack, key, n // 2)
                    clicks.append(latency)
                    per_run.append(calls)
                first_run = await calls_by_method(slack, handle)
        finally:
            await slack.stop()
    print(
        f"slash-command ack, {args.in_flight} in flight: p50 {percentile(acks, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(acks, 0.99) * 1000:.0f} ms (Slack allows 3000 ms)"
    )
    p95, median = percentile(clicks, 0.95), statistics.median(clicks)
    print(
        f"click to first thread update, {args.clicks} clicks: p95 {p95 * 1000:.0f} ms"
        f" (median {median * 1000:.0f} ms)"
    )
    print(
        f"Web API calls per demo run (command to pull request):"
        f" median {statistics.median(per_run):.0f}"
        f" (min {min(per_run)}, max {max(per_run)})"
    )
    print(
        "  by method, one TASK-101 run:", ", ".join(f"{m} {n}" for m, n in first_run.most_common())
    )


async def calls_by_method(slack: LocalSlack, handle: Any) -> Counter[str]:
    """The calls of one more TASK-101 run, counted by method."""
    before = len(slack.calls)
    existing = len([m for m in slack.messages(CHANNEL) if "TASK-101" in (m.text or "")])
    await one_click(slack, "TASK-101", existing)
    return Counter(call.method for call in slack.calls[before:])


if __name__ == "__main__":
    asyncio.run(main())
