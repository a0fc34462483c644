"""After `finish`, the harness runs the tests itself: the model's word is not enough."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from agent import prompts
from agent.deps import Deps
from agent.events import Step, TestsRan, emit
from agent.models import TestResult
from agent.state import RunState
from agent.tools.test_runner import run_command


async def verify(state: RunState, deps: Deps) -> Command[Literal["implement", "prepare_review"]]:
    emit(Step(name="test", status="started"))
    command = state.get("test_command")
    result: TestResult | None = None
    if command:
        result = await run_command(
            command,
            Path(state["workspace"]),
            sandbox=deps.sandbox,
            env=state.get("repo_env") or {},
            timeout=deps.settings.test_timeout,
            redact=deps.redact,
        )
        emit(TestsRan(result=result))
    passed = result is None or result.ok
    emit(Step(name="test", status="done" if passed else "failed"))
    tests = result.model_dump(mode="json") if result else None
    fixes = state.get("test_fixes", 0)
    if result is not None and not result.ok and fixes < deps.settings.max_test_fixes:
        return Command(
            goto="implement",
            update={
                "tests": tests,
                "test_fixes": fixes + 1,
                "turns": 0,
                "finished": False,
                "messages": [HumanMessage(prompts.tests_failed_prompt(result))],
            },
        )
    # Out of fixes, the review shows the failure plainly and the person decides.
    return Command(goto="prepare_review", update={"tests": tests, "finished": False})
