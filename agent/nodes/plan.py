"""The plan: exactly one model call, which must call `submit_plan`."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent import prompts
from agent.deps import Deps
from agent.errors import ErrorKind, TaskmasterError
from agent.events import PlanReady, Step, emit
from agent.git import git
from agent.model_calls import ask
from agent.models import Plan, Ticket
from agent.state import Json, RunState

FILE_LIST_LIMIT = 300


class SubmitPlan(BaseModel):
    """Record your plan for this ticket: a short summary, the modules you will touch
    (only those the ticket needs) and the steps, in order."""

    model_config = ConfigDict(title="submit_plan")

    summary: str = Field(description="One or two sentences: what you will change and why.")
    modules: list[str] = Field(description="Files or packages you will touch.")
    steps: list[str] = Field(description="The steps, in order.")


async def plan(state: RunState, deps: Deps) -> Json:
    emit(Step(name="plan", status="started"))
    ticket = Ticket.model_validate(state["ticket"])
    guide_name, _, guide_text = state.get("repo_guide", "").partition("\n")
    files = await git("ls-files", cwd=Path(state["workspace"]))
    listing = "\n".join(files.splitlines()[:FILE_LIST_LIMIT])
    messages = [
        SystemMessage(prompts.system_prompt(guide_name or None, guide_text)),
        HumanMessage(prompts.plan_prompt(ticket, listing)),
    ]
    asked = await ask(deps, state, messages, [SubmitPlan], tool_choice="submit_plan")
    answer = asked.message
    the_plan, replies = _take_plan(answer)
    emit(PlanReady(plan=the_plan))
    emit(Step(name="plan", status="done"))
    return {
        "plan": the_plan.model_dump(mode="json"),
        "messages": [*messages, answer, *replies, HumanMessage(prompts.IMPLEMENT)],
        "iteration": 1,
        "turns": 0,
        "test_fixes": 0,
        "finished": False,
        **asked.update(),
    }


def _take_plan(answer: AIMessage) -> tuple[Plan, list[ToolMessage]]:
    """The plan from the answer's `submit_plan` call, and a reply to every tool call."""
    found: Plan | None = None
    replies = []
    for call in answer.tool_calls:
        content = "Only submit_plan is available while planning; ignored."
        if call["name"] == "submit_plan" and found is None:
            try:
                args = SubmitPlan.model_validate(call["args"])
            except ValidationError as exc:
                raise TaskmasterError(
                    ErrorKind.MODEL_OUTPUT, "The model's plan was malformed."
                ) from exc
            found = Plan(summary=args.summary, modules=tuple(args.modules), steps=tuple(args.steps))
            content = "Plan recorded."
        replies.append(ToolMessage(content, tool_call_id=call["id"] or "", name=call["name"]))
    if found is None:
        raise TaskmasterError(ErrorKind.MODEL_OUTPUT, "The model did not call submit_plan.")
    return found, replies
