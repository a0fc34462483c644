"""The tool loop: `implement` asks the model for one turn, `act` runs the tools it called.

Each turn is its own pair of graph steps, so every turn is checkpointed and a run
killed mid-loop continues from the last finished turn.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent import prompts
from agent.deps import Deps
from agent.errors import ErrorKind, TaskmasterError
from agent.events import Step, TestsRan, ToolUsed, emit
from agent.state import Json, RunState
from agent.tools.toolset import IMPLEMENT_TOOLS, ToolContext, execute
from agent.tools.workspace import Workspace

NUDGE = "Continue with the tools. When the change is complete and tested, call finish."
THOUGHT_LIMIT = 200


async def implement(state: RunState, deps: Deps) -> Json:
    turns = state.get("turns", 0)
    if turns == 0:
        emit(Step(name="implement", status="started"))
    if turns >= deps.settings.max_steps:
        raise TaskmasterError(
            ErrorKind.BUDGET_EXHAUSTED,
            f"The agent used all {deps.settings.max_steps} steps without finishing "
            "(TASKMASTER_MAX_STEPS).",
        )
    heard, said = await _what_people_said(state, deps)
    model = deps.model_for(state["ticket_key"]).bind_tools(IMPLEMENT_TOOLS)
    answer = await model.ainvoke([*state["messages"], *said])
    if not isinstance(answer, AIMessage):
        raise TaskmasterError(ErrorKind.MODEL_OUTPUT)
    thought = answer.text.strip()
    if thought:
        emit(ToolUsed(line=thought[:THOUGHT_LIMIT]))
    messages: list[AIMessage | HumanMessage] = [*said, answer]
    if not answer.tool_calls:
        messages.append(HumanMessage(NUDGE))
    return {"messages": messages, "turns": turns + 1, "heard": heard}


async def _what_people_said(state: RunState, deps: Deps) -> tuple[int, list[HumanMessage]]:
    """Notes people left for the run since the model last looked, as their words.

    `heard` (the last note id shown) is checkpointed with the turn, so a turn run again
    after a crash shows the same notes, and no note is shown twice.
    """
    heard = state.get("heard", 0)
    notes = await deps.inbox.notes_after(state["run_id"], heard)
    for note in notes:
        emit(ToolUsed(line=f"reading {note.who}'s message"))
    said = [HumanMessage(prompts.person_said(note.who, note.text)) for note in notes]
    return (notes[-1].id if notes else heard), said


def after_implement(state: RunState) -> str:
    last = state["messages"][-1]
    return "act" if isinstance(last, AIMessage) and last.tool_calls else "implement"


async def act(state: RunState, deps: Deps) -> Json:
    answer = state["messages"][-1]
    assert isinstance(answer, AIMessage)
    context = ToolContext(
        workspace=Workspace(Path(state["workspace"])),
        test_command=state.get("test_command"),
        sandbox=deps.sandbox,
        test_timeout=deps.settings.test_timeout,
        test_env=state.get("repo_env") or {},
        redact=deps.redact,
    )
    replies: list[ToolMessage] = []
    update: Json = {}
    for call in answer.tool_calls:
        outcome = await execute(call["name"], call["args"], context)
        emit(ToolUsed(line=outcome.line))
        if outcome.test_result is not None:
            emit(TestsRan(result=outcome.test_result))
        replies.append(
            ToolMessage(
                outcome.content,
                tool_call_id=call["id"] or "",
                name=call["name"],
                status="error" if outcome.error else "success",
            )
        )
        if outcome.finished:
            update.update(finished=True, summary=outcome.summary)
    if update.get("finished"):
        emit(Step(name="implement", status="done"))
    return {"messages": replies, **update}


def after_act(state: RunState) -> str:
    return "verify" if state.get("finished") else "implement"
