"""Long runs against the fake OpenAI and Anthropic: request sizes and time outside the model.

For each provider and each length (tool calls), runs TASK-101 of the demo with the
real provider SDK against its fake (tests/fakes), through the product's own runtime
and settings (TASKMASTER_CONTEXT_TOKENS as configured, 150,000 by default), until
the review. The model's turns read the demo's files over and over (and now and then
write a page of notes). It prints, per run: the largest request and the tokens sent
in all (TaskMaster's estimate, as the fake counted what it received), how many of
those the provider served from its prompt cache (OpenAI caches automatically; the
fake simulates it; Anthropic only with cache_control, which TaskMaster does not
send), the wall time, and the wall time outside the model (the wall time less the
fake's time answering).

    .venv/bin/python bench/long_runs.py [--calls 30 300] [--per-turn N] [--context-tokens N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fakes live with the tests

from agent.demo import prepare_demo  # noqa: E402
from agent.runs.runtime import open_runtime  # noqa: E402
from agent.runs.store import RunRecord  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.fakes.chat import FakeChatServer, reading_run  # noqa: E402
from tests.fakes.openai_api import FakeOpenAI  # noqa: E402

MODELS = {"openai": "openai:gpt-4o", "anthropic": "anthropic:claude-sonnet-4-5"}


async def ignore(run: RunRecord, event: object) -> None:
    return None


async def one_run(
    provider: str, calls: int, per_turn: int, context_tokens: int
) -> dict[str, float]:
    fake: FakeChatServer = FakeOpenAI() if provider == "openai" else FakeAnthropic()
    with tempfile.TemporaryDirectory(prefix="taskmaster-bench-") as scratch:
        data = Path(scratch)
        async with fake:
            fake.enqueue(*reading_run(calls, per_turn))
            if provider == "openai":
                os.environ.update(OPENAI_BASE_URL=f"{fake.url}/v1", OPENAI_API_KEY=fake.key)
            else:
                os.environ.update(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY=fake.key)
            env = {
                **await prepare_demo(data),
                "TASKMASTER_DATA_DIR": str(data),
                "TASKMASTER_MODEL": MODELS[provider],
                "TASKMASTER_CONTEXT_TOKENS": str(context_tokens),
                "TASKMASTER_MAX_STEPS": str(calls + 10),
                "TASKMASTER_MAX_TOKENS": "1000000000",
            }
            async with open_runtime(load_settings(env), {}, ignore) as manager:
                started = time.perf_counter()
                run = await manager.start("TASK-101", "bench")
                record = await manager.wait(run.run_id)
                wall = time.perf_counter() - started
            assert record.status == "awaiting_review", record.error
            assert not fake.refusals, fake.refusals
    return {
        "largest": max(fake.sent_tokens),
        "sent": sum(fake.sent_tokens),
        "cached": sum(usage.cached for usage in fake.usages),
        "requests": len(fake.sent_tokens),
        "wall": wall,
        "outside": wall - fake.handling_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--per-turn", type=int, default=1, help="tool calls in one turn")
    parser.add_argument("--context-tokens", type=int, default=150_000)
    parser.add_argument("--providers", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    print(f"TASKMASTER_CONTEXT_TOKENS={args.context_tokens:,}, {args.per_turn} call(s) a turn")
    print(
        "| provider | tool calls | requests | largest request (tokens) | tokens sent in all "
        "| of which cached | wall time | outside the model |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for provider in args.providers:
        for calls in args.calls:
            row = await one_run(provider, calls, args.per_turn, args.context_tokens)
            print(
                f"| {provider} | {calls} | {row['requests']:.0f} | {row['largest']:,.0f} "
                f"| {row['sent']:,.0f} | {row['cached']:,.0f} | {row['wall']:.1f}s "
                f"| {row['outside']:.1f}s |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
