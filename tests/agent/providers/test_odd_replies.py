"""Replies real models give that the happy path never sees: the run goes on and delivers."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from agent.models import ReviewDecision
from tests.agent.providers.conftest import SHARED_LOOP, Provider, running
from tests.fakes.chat import Turn, call, cut_off, demo_turns, say

pytestmark = SHARED_LOOP

BROKEN = '{"path": "src/tasktrack/models.py", "content": "from __future__ import annot'


async def test_cut_off_unknown_text_only_and_empty_replies_do_not_stop_the_run(
    provider: Provider,
) -> None:
    plan, *work = demo_turns("TASK-101")[:8]  # to the first review
    odd = [
        cut_off("write_file", BROKEN, {"path": "src/tasktrack/models.py"}),
        call("delete_repository", text="Cleaning up first.", confirm=True),
        say("Let me think about where the overdue rule lives."),
        Turn(),  # nothing at all
    ]
    provider.fake.enqueue(plan, *odd, *work)
    async with running(provider) as manager:
        run = await manager.start("TASK-101", "U_ANA")
        review = await manager.wait(run.run_id)
        assert review.status == "awaiting_review", review.error
        messages = (await manager.snapshot(run.run_id)).values["messages"]
        await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
        done = await manager.wait(run.run_id)

    assert done.status == "done", done.error
    assert provider.fake.refusals == []  # every conversation sent was one the API accepts
    replies = [m.text for m in messages if isinstance(m, ToolMessage) and m.status == "error"]
    # The model was told what went wrong with each call, and to try again.
    [broken, unknown] = replies
    assert "cut off at the model's output limit" in broken
    if provider.name == "openai":  # OpenAI sends the broken JSON itself
        assert "not valid JSON" in broken and "What arrived:" in broken
    else:  # Anthropic sends the fields it finished; `content` is missing
        assert "content" in broken and "Field required" in broken
    assert "unknown tool 'delete_repository'" in unknown
