"""TASK-101 end to end with each real provider SDK against its strict fake."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage

from agent.events import RunFinished, UsageReported
from agent.models import ReviewDecision
from tests.agent.providers.conftest import SHARED_LOOP, Provider, Recorder, data_dir, running
from tests.fakes.chat import demo_turns

pytestmark = SHARED_LOOP

FEEDBACK = "Please also cover TaskService.overdue() with a test."


async def test_review_request_changes_second_review_approve(
    provider: Provider, recorder: Recorder
) -> None:
    provider.fake.enqueue(*demo_turns("TASK-101"))
    async with running(provider, recorder) as manager:
        run = await manager.start("TASK-101", "U_ANA")
        first = await manager.wait(run.run_id)
        assert first.status == "awaiting_review", first.error
        _, _, request = await manager.pending_review(run.run_id)
        assert "self.due < today" in request.diff and request.tests and request.tests.ok

        revise = ReviewDecision(action="revise", by="ana", feedback=FEEDBACK)
        await manager.decide(run.run_id, revise)
        second = await manager.wait(run.run_id)
        assert second.status == "awaiting_review", second.error
        _, _, request = await manager.pending_review(run.run_id)
        assert request.iteration == 2
        messages = (await manager.snapshot(run.run_id)).values["messages"]
        asked = next(
            i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and FEEDBACK in m.text
        )
        assert isinstance(messages[asked + 1], AIMessage)  # the next model call saw it

        await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
        done = await manager.wait(run.run_id)

    assert done.status == "done", done.error
    assert provider.fake.refusals == []  # every request was one the provider accepts
    assert len(provider.fake.usages) == len(demo_turns("TASK-101"))
    [finished] = recorder.of(RunFinished)
    assert finished.pull_request is not None
    # The usage every surface shows is the sum of what the provider reported.
    totals = provider.totals()
    assert done.usage is not None
    assert (done.usage.input_tokens, done.usage.output_tokens) == (totals.input, totals.output)
    assert done.usage.cached_tokens == totals.cached
    assert done.usage.cost_usd is not None and done.usage.cost_usd > 0
    assert recorder.of(UsageReported)[-1].usage == done.usage
    [pull_request] = [
        json.loads(line)
        for line in (data_dir(provider) / "pull_requests.jsonl").read_text().splitlines()
    ]
    assert f"{totals.input:,} tokens in" in pull_request["body"]
    assert provider.model.partition(":")[2] in pull_request["body"]
