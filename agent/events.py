"""Progress events: the one protocol every surface reads (docs/architecture.md, Parts).

Nodes emit them through LangGraph's custom stream writer (`emit`); the run lifecycle
reads `astream(stream_mode=["custom", "updates"])`, adds the events only it can know
(review requested, run finished), and hands each one to the surface's sink.
"""

from __future__ import annotations

from typing import Annotated, Literal

from langgraph.config import get_stream_writer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from agent.errors import ErrorKind
from agent.models import (
    FinalStatus,
    Plan,
    PullRequest,
    ReviewAction,
    ReviewRequest,
    TestResult,
    Ticket,
)
from agent.usage import RunUsage

StepName = Literal["ticket", "workspace", "plan", "implement", "test", "review", "deliver"]
STEPS: tuple[StepName, ...] = (
    "ticket",
    "workspace",
    "plan",
    "implement",
    "test",
    "review",
    "deliver",
)
STEP_LABELS: dict[StepName, str] = {
    "ticket": "Ticket",
    "workspace": "Workspace",
    "plan": "Plan",
    "implement": "Implement",
    "test": "Test",
    "review": "Review",
    "deliver": "Pull request",
}


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    ticket: str
    requester: str


class RunQueued(_Event):
    """The run waits for a free slot (TASKMASTER_MAX_RUNS); `ahead` runs wait before it."""

    type: Literal["queued"] = "queued"
    ahead: int


class Step(_Event):
    type: Literal["step"] = "step"
    name: StepName
    status: Literal["started", "done", "failed"]


class TicketLoaded(_Event):
    type: Literal["ticket_loaded"] = "ticket_loaded"
    ticket: Ticket


class PlanReady(_Event):
    type: Literal["plan_ready"] = "plan_ready"
    plan: Plan


class ToolUsed(_Event):
    """One line of what the agent is doing now ("reading src/app.py")."""

    type: Literal["tool"] = "tool"
    line: str


class TestsRan(_Event):
    __test__ = False

    type: Literal["tests"] = "tests"
    result: TestResult


class ReviewRequested(_Event):
    type: Literal["review_requested"] = "review_requested"
    interrupt_id: str
    request: ReviewRequest


class DecisionMade(_Event):
    type: Literal["decision"] = "decision"
    action: ReviewAction
    by: str
    feedback: str = ""


class PullRequestOpened(_Event):
    type: Literal["pr_opened"] = "pr_opened"
    pull_request: PullRequest


class TicketUpdated(_Event):
    type: Literal["ticket_updated"] = "ticket_updated"
    ticket: str
    comment_id: str
    transition: str | None = None


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    status: FinalStatus
    pull_request: PullRequest | None = None
    by: str | None = None  # who ended it: the decider, or the canceller


class ErrorRaised(_Event):
    type: Literal["error"] = "error"
    kind: ErrorKind
    message: str


class UsageReported(_Event):
    """The run's model usage so far (tokens, and a cost where the price is known).

    Sent after every model call that reported usage, and again by the lifecycle just
    before `review_requested` and `run_finished`, so a surface that shows milestones
    only has the total even in a process that made no model call itself.
    """

    type: Literal["usage"] = "usage"
    usage: RunUsage


Event = Annotated[
    RunStarted
    | RunQueued
    | Step
    | TicketLoaded
    | PlanReady
    | ToolUsed
    | TestsRan
    | ReviewRequested
    | DecisionMade
    | PullRequestOpened
    | TicketUpdated
    | RunFinished
    | ErrorRaised
    | UsageReported,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def emit(event: Event) -> None:
    """Send an event from inside a node; a no-op when nobody streams custom events."""
    get_stream_writer()(event.model_dump(mode="json"))


def parse_event(data: object) -> Event:
    return EVENT_ADAPTER.validate_python(data)
