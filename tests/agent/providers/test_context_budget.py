"""A long run stays within TASKMASTER_CONTEXT_TOKENS: no request the provider receives is
over it, counted with the same estimate TaskMaster uses, over what the provider received."""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage

from agent.conversation import SHORTENED
from agent.errors import ErrorKind
from agent.events import ErrorRaised
from tests.agent.providers.conftest import SHARED_LOOP, Provider, Recorder, running
from tests.fakes.chat import reading_run

pytestmark = SHARED_LOOP

TOOL_CALLS = 300
PER_TURN = 5  # models call tools in parallel; fewer turns keep the test quick
BUDGET = 30_000


# One provider keeps the suite short: fitting is the same for both, and the second test
# here and bench/long_runs.py run both.
@pytest.mark.parametrize("provider", ["openai"], indirect=True)
async def test_a_300_tool_call_run_sends_no_request_over_the_budget(provider: Provider) -> None:
    provider.fake.enqueue(*reading_run(TOOL_CALLS, PER_TURN))
    settings = {
        "TASKMASTER_CONTEXT_TOKENS": str(BUDGET),
        "TASKMASTER_MAX_STEPS": "400",
        "TASKMASTER_MAX_TOKENS": "100000000",
    }
    async with running(provider, **settings) as manager:
        run = await manager.start("TASK-101", "U_ANA")
        review = await manager.wait(run.run_id)
        messages = (await manager.snapshot(run.run_id)).values["messages"]

    assert review.status == "awaiting_review", review.error
    sent = provider.fake.sent_tokens
    assert len(sent) == TOOL_CALLS // PER_TURN + 2  # the plan, every turn, the finish
    assert max(sent) <= BUDGET
    # Without shortening it would not have fitted: the tool output alone is many budgets.
    replies = [m for m in messages if isinstance(m, ToolMessage)]
    assert sum(len(r.text) for r in replies if not r.text.startswith(SHORTENED)) < 3 * BUDGET
    assert len(replies) == TOOL_CALLS + 2  # every call was answered (and submit_plan, finish)
    assert sum(1 for r in replies if r.text.startswith(SHORTENED)) > TOOL_CALLS // 2
    assert provider.fake.refusals == []


async def test_a_model_window_smaller_than_the_budget_is_budget_exhausted_saying_what_to_lower(
    provider: Provider, recorder: Recorder
) -> None:
    provider.fake.enqueue(*reading_run(20))
    provider.fake.window = 8_000  # the model takes less than TASKMASTER_CONTEXT_TOKENS allows
    async with running(provider, recorder) as manager:
        run = await manager.start("TASK-101", "U_ANA")
        overflowed = await manager.wait(run.run_id)
    assert overflowed.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.BUDGET_EXHAUSTED
    assert "lower it below the model's window" in error.message
    assert "TASKMASTER_CONTEXT_TOKENS=150,000" in error.message

    async with running(provider, recorder, TASKMASTER_CONTEXT_TOKENS="7000") as manager:
        await manager.resume(run.run_id)
        resumed = await manager.wait(run.run_id)
    assert resumed.status == "awaiting_review", resumed.error
    assert max(provider.fake.sent_tokens[-5:]) <= 7_000
