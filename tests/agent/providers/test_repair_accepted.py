"""A conversation left by a run that failed on a cut-off reply: the provider refuses it as it
was stored, and accepts it as TaskMaster now sends it, so the run resumes."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import HumanMessage, SystemMessage

from agent.conversation import repair
from agent.integrations.chat_models import CallLimits, model_factory
from agent.nodes.implement import NUDGE
from agent.tools.toolset import IMPLEMENT_TOOLS
from tests.agent.providers.conftest import SHARED_LOOP, Provider
from tests.fakes.chat import cut_off, say

pytestmark = SHARED_LOOP


async def test_the_stored_conversation_is_refused_and_the_repaired_one_accepted(
    provider: Provider,
) -> None:
    provider.fake.enqueue(
        cut_off("write_file", '{"path": "a.py", "content": "def', {"path": "a.py"}),
        say("Picking up where I was cut off."),
    )
    model = model_factory(provider.model, CallLimits(timeout=5, retries=0))("TASK-101")
    bound = model.bind_tools(IMPLEMENT_TOOLS)
    opening = [SystemMessage("You are TaskMaster."), HumanMessage("Ticket TASK-101.")]
    reply = await bound.ainvoke(opening)
    # Before `act` answered broken calls, this is what a failed run kept:
    stored = [*opening, reply, HumanMessage(NUDGE)]

    with pytest.raises(ModelInvalidRequestError, match="tool"):
        await bound.ainvoke(stored)
    answer = await bound.ainvoke(repair(stored))

    assert answer.text == "Picking up where I was cut off."
    [refusal] = provider.fake.refusals
    assert "tool" in str(refusal)
