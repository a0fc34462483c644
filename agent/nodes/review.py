"""The review: the change is frozen into a request, then the graph waits for a person.

Two nodes on purpose. LangGraph re-runs an interrupted node from its start on resume,
so `prepare_review` computes the diff once and checkpoints it, and `review` only
interrupts with that stored request: the person approves exactly what they saw, and
`deliver` can check the tree still matches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langchain_core.messages import HumanMessage
from langgraph.types import Command, interrupt

from agent import prompts
from agent.changes import collect_change
from agent.deps import Deps
from agent.events import DecisionMade, Step, emit
from agent.models import Plan, ReviewDecision, ReviewRequest, TestResult, Ticket
from agent.review_size import fit_diff
from agent.review_warnings import review_warnings
from agent.reviewed_trees import diff_since
from agent.state import Json, RunState


async def prepare_review(state: RunState, deps: Deps) -> Json:
    emit(Step(name="review", status="started"))
    workspace = Path(state["workspace"])
    change = await collect_change(workspace, state["base_sha"], deps.redact)
    iteration = state.get("iteration", 1)
    previous = state.get("review_tree")
    since_last = (
        deps.redact(await diff_since(workspace, previous, change.tree)) if previous else None
    )
    tests = state.get("tests")
    limit = deps.settings.max_review_diff_bytes
    diff, diff_bytes = fit_diff(change.diff, limit)
    if since_last is not None:
        since_last, _ = fit_diff(since_last, limit)
    request = ReviewRequest(
        ticket=Ticket.model_validate(state["ticket"]),
        plan=Plan.model_validate(state["plan"]),
        iteration=iteration,
        revisions_left=max(deps.settings.max_revisions - (iteration - 1), 0),
        diff=diff,
        diff_bytes=diff_bytes,
        diff_hash=change.diff_hash,
        files=change.files,
        tests=TestResult.model_validate(tests) if tests else None,
        touches_tests=change.touches_tests,
        summary=state.get("summary", ""),
        warnings=review_warnings(change, deps.sandbox.warnings()),
        since_last=since_last,
    )
    return {"review": request.model_dump(mode="json"), "review_tree": change.tree}


async def review(
    state: RunState,
) -> Command[Literal["push", "implement", "note_rejection", "review"]]:
    request = ReviewRequest.model_validate(state["review"])
    decision = ReviewDecision.model_validate(interrupt(request.model_dump(mode="json")))
    emit(DecisionMade(action=decision.action, by=decision.by, feedback=decision.feedback))
    emit(Step(name="review", status="done"))
    update: Json = {"decision": decision.model_dump(mode="json")}
    if decision.action == "approve":
        return Command(goto="push", update=update)
    if decision.action == "reject":
        return Command(goto="note_rejection", update=update)
    if request.revisions_left <= 0:
        # The run lifecycle refuses this before resuming; if one gets here, ask again.
        return Command(goto="review", update=update)
    iteration = request.iteration + 1
    update.update(
        iteration=iteration,
        turns=0,
        test_fixes=0,
        finished=False,
        messages=[HumanMessage(prompts.revise_prompt(iteration, decision.feedback))],
    )
    return Command(goto="implement", update=update)
