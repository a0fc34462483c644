"""The tool loop: `implement` asks the model for one turn, `act` runs the tools it called.

Each turn is its own pair of graph steps, so every turn is checkpointed and a run
killed mid-loop continues from the last finished turn.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent import prompts
from agent.deps import Deps
from agent.errors import Budget, BudgetExhausted
from agent.events import Step, TestsRan, ToolUsed, emit
from agent.model_calls import ask
from agent.state import Json, RunState
from agent.tools.toolset import IMPLEMENT_TOOLS, ToolContext, execute
from agent.tools.workspace import Workspace

NUDGE = "Continue with the tools. When the change is complete and tested, call finish."
THOUGHT_LIMIT = 200
BROKEN_SHOWN = 300
CUT_OFF = (
    " Your reply was cut off at the model's output limit, so the call was incomplete: "
    "make smaller calls (edit_file for a part of a file rather than write_file for all of it)."
)


async def implement(state: RunState, deps: Deps) -> Json:
    turns = state.get("turns", 0)
    if turns == 0:
        emit(Step(name="implement", status="started"))
    if turns >= deps.settings.max_steps:
        raise BudgetExhausted(Budget.STEPS, deps.settings.max_steps, used=turns)
    heard, said = await _what_people_said(state, deps)
    asked = await ask(deps, state, [*state["messages"], *said], IMPLEMENT_TOOLS)
    answer = asked.message
    thought = answer.text.strip()
    if thought:
        emit(ToolUsed(line=thought[:THOUGHT_LIMIT]))
    messages: list[BaseMessage] = [*asked.shortened, *said, answer]
    if not _calls(answer):  # text only, or nothing at all: ask again
        messages.append(HumanMessage(NUDGE))
    return {"messages": messages, "turns": turns + 1, "heard": heard, **asked.update()}


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
    return "act" if isinstance(last, AIMessage) and _calls(last) else "implement"


def _calls(answer: AIMessage) -> bool:
    return bool(answer.tool_calls) or any(c.get("id") for c in answer.invalid_tool_calls)


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
        max_file_bytes=deps.settings.max_file_bytes,
    )
    replies: list[ToolMessage] = []
    update: Json = {}
    cut_off = was_cut_off(answer)
    for call in answer.tool_calls:
        outcome = await execute(call["name"], call["args"], context)
        emit(ToolUsed(line=outcome.line))
        if outcome.test_result is not None:
            emit(TestsRan(result=outcome.test_result))
        replies.append(
            ToolMessage(
                outcome.content + (CUT_OFF if cut_off and outcome.error else ""),
                tool_call_id=call["id"] or "",
                name=call["name"],
                status="error" if outcome.error else "success",
            )
        )
        if outcome.finished:
            update.update(finished=True, summary=outcome.summary)
    # Every call gets its reply, the broken ones too: a call without one makes the
    # provider refuse the whole conversation.
    for broken in answer.invalid_tool_calls:
        if not broken.get("id"):
            continue  # cannot be answered, and `repair` leaves it out of every request
        name = broken.get("name") or "unknown"
        emit(ToolUsed(line=f"{name}: arguments were not valid JSON"))
        replies.append(
            ToolMessage(
                broken_call_reply(name, broken.get("args"), broken.get("error"), cut_off),
                tool_call_id=broken["id"],
                name=name,
                status="error",
            )
        )
    if update.get("finished"):
        emit(Step(name="implement", status="done"))
    return {"messages": replies, **update}


def after_act(state: RunState) -> str:
    return "verify" if state.get("finished") else "implement"


def was_cut_off(answer: AIMessage) -> bool:
    """The reply stopped at the model's output limit (OpenAI "length", Anthropic "max_tokens")."""
    meta = answer.response_metadata
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens"


def broken_call_reply(name: str, args: str | None, error: str | None, cut_off: bool) -> str:
    """What the model reads about a call whose arguments were not JSON."""
    why = f" ({error})" if error else ""
    text = f"Error: your arguments for {name} were not valid JSON{why}; call {name} again."
    if cut_off:
        text += CUT_OFF
    if args:
        shown = args if len(args) <= BROKEN_SHOWN else args[:BROKEN_SHOWN] + "..."
        text += f"\nWhat arrived: {shown}"
    return text
