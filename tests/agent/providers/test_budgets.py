"""What a run may spend: tokens and working minutes stop it, a raised budget continues it,
and the tokens every surface shows are the provider's own counts."""

from __future__ import annotations

import json
import os
import re

import pytest

from agent.errors import ErrorKind
from agent.events import ErrorRaised
from tests.agent.providers.conftest import (
    FOREIGN,
    SHARED_LOOP,
    Provider,
    Recorder,
    data_dir,
    running,
)
from tests.cli import run_cli
from tests.fakes.chat import demo_turns

pytestmark = SHARED_LOOP


def cli_env(provider: Provider, **settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_")) and k not in FOREIGN
    }
    return {**env, **provider.env, **settings}


@pytest.mark.parametrize("provider", ["openai"], indirect=True)
async def test_token_budget_stops_the_run_raised_budget_finishes_it_and_runs_json_adds_up(
    provider: Provider,
) -> None:
    provider.fake.enqueue(*demo_turns("TASK-101"))
    tight = cli_env(provider, TASKMASTER_MAX_TOKENS="1000")
    cwd = data_dir(provider).parent

    stopped = await run_cli(cwd, tight, "run", "TASK-101", "--decide", "approve")

    assert stopped.code == 1, stopped.err
    assert "TASKMASTER_MAX_TOKENS" in stopped.out and "(budget_exhausted)" in stopped.out
    found = re.search(r"continue it with: .* resume (\w+)", stopped.out)
    assert found, stopped.out
    run_id = found.group(1)
    # It stopped before spending past the budget: the plan alone needs more than 1,000.
    assert provider.fake.requests == []

    roomy = cli_env(provider, TASKMASTER_MAX_TOKENS="5000000")
    reviewed = await run_cli(cwd, roomy, "resume", run_id)
    assert reviewed.code == 0, reviewed.err
    assert "Waiting for review" in reviewed.out and "model: " in reviewed.out
    approved = await run_cli(cwd, roomy, "resume", run_id, "approve", "--by", "ana")
    assert approved.code == 0, approved.err

    listed = await run_cli(cwd, roomy, "runs", "--json")
    [run] = json.loads(listed.out)
    assert run["status"] == "done"
    totals = provider.totals()
    assert run["usage"]["input_tokens"] == totals.input
    assert run["usage"]["output_tokens"] == totals.output
    assert run["usage"]["cached_tokens"] == totals.cached > 0  # OpenAI caches long prompts
    assert run["usage"]["calls"] == len(provider.fake.usages) == 8  # plan to finish
    assert run["usage"]["cost_usd"] > 0


async def test_working_minutes_stop_the_run_and_a_raised_budget_continues_it(
    provider: Provider, recorder: Recorder
) -> None:
    provider.fake.enqueue(*demo_turns("TASK-101"))
    async with running(provider, recorder, TASKMASTER_MAX_MINUTES="0.0001") as manager:
        run = await manager.start("TASK-101", "U_ANA")
        stopped = await manager.wait(run.run_id)
    assert stopped.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.BUDGET_EXHAUSTED and "TASKMASTER_MAX_MINUTES" in error.message
    assert stopped.worked_s > 0

    async with running(provider, recorder, TASKMASTER_MAX_MINUTES="60") as manager:
        await manager.resume(run.run_id)
        resumed = await manager.wait(run.run_id)
    assert resumed.status == "awaiting_review", resumed.error
    assert resumed.worked_s > stopped.worked_s  # the time adds up across the two
