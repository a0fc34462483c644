"""What the Slack thread of one run shows, as plain state changed by events.

No Slack calls here: `RunView.apply(event)` updates the state and returns what must
be said in the thread and how soon the edited messages should show it, so the
reporter only decides *when* to write, and *what* is shown can be read (and tested)
on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from agent.events import (
    STEPS,
    DecisionMade,
    ErrorRaised,
    Event,
    PlanReady,
    PullRequestOpened,
    ReviewRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    Step,
    StepName,
    TestsRan,
    TicketLoaded,
    TicketUpdated,
    ToolUsed,
    UsageReported,
)
from agent.models import FinalStatus, Plan, PullRequest, ReviewAction, ReviewRequest, TestResult
from agent.runs.records import RunRecord
from bot.slack import replies
from bot.slack.ids import ReviewRef
from bot.slack.kit import JSON
from bot.slack.threads import Thread

Mark = Literal["pending", "current", "done", "failed"]
Phase = Literal["running", "awaiting_review", "done", "rejected", "cancelled", "failed"]
FINAL_PHASES: tuple[Phase, ...] = ("done", "rejected", "cancelled", "failed")
# The "now:" line when a step starts, until the step reports its own actions.
STEP_DOING: dict[StepName, str] = {
    "ticket": "reading the ticket",
    "workspace": "cloning the repository into a private workspace",
    "plan": "planning the change",
    "implement": "working on the change",
    "test": "running the tests",
    "review": "preparing the review",
    "deliver": "pushing the branch and opening the pull request",
}
STARTING_LINE = "starting"
_STARTED_MARKS: dict[str, Mark] = {"started": "current", "done": "done", "failed": "failed"}
_FINAL_MARKS: dict[FinalStatus, Mark] = {
    "done": "done",
    "failed": "failed",
    "rejected": "pending",
    "cancelled": "pending",
}


@dataclass(frozen=True)
class Reply:
    """A milestone: its own message in the thread."""

    text: str
    blocks: list[JSON]


@dataclass(frozen=True)
class PostReview:
    """Post the review request (and attach its full diff) in the thread."""

    ref: ReviewRef
    request: ReviewRequest


@dataclass(frozen=True)
class CloseReview:
    """Replace a review message's buttons with a note: decided, or no longer answerable."""

    ref: ReviewRef
    request: ReviewRequest
    note: str
    message_ts: str | None = None  # None: the run's latest review message


@dataclass(frozen=True)
class PlanReply(Reply):
    """The plan as a reply; the agent surface streams it as a `plan_update` instead."""

    plan: Plan | None = None


Milestone = Reply | PostReview | CloseReview


@dataclass
class Changes:
    """What one event changed, and how soon it should show.

    `checklist` (a step started or ended) shows within the reporter's short interval;
    a change of the "now:" line alone waits for the next heartbeat edit; `urgent`
    (a review to answer, the end) is written at once.
    """

    root: bool = False
    progress: bool = False
    checklist: bool = False
    urgent: bool = False
    milestones: list[Milestone] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class RunView:
    """The state behind a run's root message, progress card and thread replies."""

    run_id: str
    ticket: str
    requester: str
    channel: str
    root_ts: str
    progress_ts: str | None = None
    review_ts: str | None = None
    title: str | None = None
    started_at: datetime = field(default_factory=_now)
    finished_at: datetime | None = None
    marks: dict[StepName, Mark] = field(default_factory=lambda: dict.fromkeys(STEPS, "pending"))
    line: str = ""
    phase: Phase = "running"
    delivering: bool = False  # approved: the run can no longer be cancelled
    pull_request: PullRequest | None = None
    decided_by: str | None = None
    decided: ReviewAction | None = None
    reason: str = ""  # a rejection's reason
    cancelled_by: str | None = None
    failure: str | None = None  # what failed, in words for people
    failed_step: StepName | None = None
    ticket_note: str | None = None  # what TaskMaster did on the ticket
    open_review: tuple[ReviewRef, ReviewRequest] | None = None
    reviews: int = 0
    waiting_since: datetime | None = None
    waited: float = 0.0  # seconds spent waiting for a person's review, before waiting_since
    tests: TestResult | None = None  # the latest test run (the agent surface's test output)
    tokens: int | None = None  # the model's tokens so far, when the engine reports them
    cost: float | None = None  # and their cost in US dollars

    @classmethod
    def from_record(cls, run: RunRecord, thread: Thread) -> RunView:
        """A view of a run from the registry: after a restart, only its messages are known.

        Its time so far that was not work (the registry keeps the working seconds) is
        counted as waiting for review: without it a restart made every earlier wait
        read as work."""
        phase: Phase = "awaiting_review" if run.status == "awaiting_review" else "running"
        if run.status in FINAL_PHASES:
            phase = run.status
        now, started = _now(), _parse_time(run.created_at)
        idle = max((now - started).total_seconds() - run.worked_s, 0.0)
        if phase == "running" and run.decision is None:
            idle = 0.0  # never reviewed: its idle time is a queue, or work not yet saved
        return cls(
            run_id=run.run_id,
            ticket=run.ticket,
            requester=run.requester,
            channel=thread.channel,
            root_ts=thread.root_ts or "",
            progress_ts=thread.progress_ts,
            review_ts=thread.review_ts,
            started_at=started,
            phase=phase,
            title=run.title,
            cancelled_by=run.cancelled_by,
            delivering=run.delivering,
            pull_request=run.pull_request,
            failure=run.error if run.status == "failed" else None,
            waited=idle,
            waiting_since=now if phase == "awaiting_review" else None,
        )

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES

    @property
    def ticking(self) -> bool:
        """Whether the card's working time moves (the agent works; nobody is awaited)."""
        return self.phase == "running"

    def elapsed(self, now: datetime) -> float:
        return ((self.finished_at or now) - self.started_at).total_seconds()

    def waiting(self, now: datetime) -> float:
        """Seconds spent waiting for a person's review, the current wait included."""
        current = (now - self.waiting_since).total_seconds() if self.waiting_since else 0.0
        return self.waited + max(current, 0.0)

    def working(self, now: datetime) -> float:
        """Seconds the run has been at work: its whole time less the waits for review."""
        return max(self.elapsed(now) - self.waiting(self.finished_at or now), 0.0)

    def record_usage(self, tokens: int, cost: float | None) -> Changes:
        """The model's usage so far (from the engine's usage event), shown on the card."""
        self.tokens, self.cost = tokens, cost
        return Changes(progress=True)

    def apply(self, event: Event) -> Changes:
        """Fold one event into the view; return what must be written or posted."""
        changes = Changes(progress=True)
        if self.finished and not isinstance(event, RunFinished):
            self._restarted(changes)  # a retried run: it works again
        match event:
            case RunStarted():
                self.phase, self.line = "running", STARTING_LINE
                changes.checklist = True
            case RunQueued(ahead=ahead):
                # Its first step replaces the line once a slot is free.
                waiting = f"{ahead} ahead" if ahead else "next in line"
                self.line = f"waiting for a free slot (TASKMASTER_MAX_RUNS; {waiting})"
                changes.checklist = True
            case Step(name=name, status=status):
                self._mark(name, status)
                if status == "started":
                    self.line = STEP_DOING[name]
                if status == "failed":
                    self.failed_step = name
                changes.checklist = True
            case TicketLoaded(ticket=ticket):
                if ticket.title != self.title:
                    self.title = ticket.title
                    changes.root = True
            case PlanReady(plan=plan):
                changes.milestones.append(PlanReply(*replies.plan_reply(plan), plan=plan))
            case ToolUsed(line=line):
                self.line = line
            case TestsRan(result=result):
                self.line = f"tests: {result.headline}"
                self.tests = result
                if self.marks["test"] == "current" and not result.ok:
                    # The harness's run failed: the agent goes back to fix it. A passing
                    # run is shown once, in the review; the agent's own runs only here.
                    changes.milestones.append(Reply(*replies.tests_reply(result)))
            case ReviewRequested(interrupt_id=interrupt_id, request=request):
                self._review_requested(ReviewRef(self.run_id, interrupt_id), request, changes)
            case DecisionMade(action=action, by=by, feedback=feedback):
                self._decided(action, by, feedback, changes)
            case PullRequestOpened(pull_request=pull_request):
                self.pull_request = pull_request
                changes.milestones.append(Reply(*replies.pull_request_reply(pull_request)))
            case TicketUpdated(ticket=ticket, transition=transition):
                self.ticket_note = replies.ticket_note(ticket, transition, self.decided)
            case UsageReported(usage=usage):
                self.record_usage(usage.total_tokens, usage.cost_usd)
            case ErrorRaised(message=message):
                self.failure = message
            case RunFinished(status=final, pull_request=pull_request, by=by):
                if final == "cancelled":
                    self.cancelled_by = by
                self._finished(final, pull_request, changes)
        return changes

    def _restarted(self, changes: Changes) -> None:
        self.phase, self.finished_at, self.failure, self.failed_step = "running", None, None, None
        changes.root = changes.checklist = True

    def _mark(self, name: StepName, status: Literal["started", "done", "failed"]) -> None:
        # Steps run in order, and a revision goes back to `implement`: what comes before
        # a step is done and what comes after it is still to do. This also rebuilds the
        # checklist of a run re-attached after a restart from its first new event.
        position = STEPS.index(name)
        for earlier in STEPS[:position]:
            self.marks[earlier] = "done"
        if status == "started":
            for later in STEPS[position + 1 :]:
                self.marks[later] = "pending"
        self.marks[name] = _STARTED_MARKS[status]

    def _review_requested(self, ref: ReviewRef, request: ReviewRequest, changes: Changes) -> None:
        self.phase = "awaiting_review"
        self.title = request.ticket.title
        self.open_review = (ref, request)
        self.reviews = max(self.reviews, request.iteration)
        self.waiting_since = self.waiting_since or _now()
        self.line = f"waiting for a review (review {request.iteration})"
        changes.root = changes.urgent = changes.checklist = True
        changes.milestones.append(PostReview(ref, request))

    def _decided(self, action: ReviewAction, by: str, feedback: str, changes: Changes) -> None:
        self.phase, self.open_review = "running", None
        self.decided_by, self.decided = by, action
        self.delivering = action == "approve"
        if self.waiting_since is not None:
            self.waited += max((_now() - self.waiting_since).total_seconds(), 0.0)
            self.waiting_since = None
        self.line = replies.DECISION_LINES[action]
        changes.root = changes.checklist = True
        if action == "revise":
            changes.milestones.append(Reply(*replies.revise_reply(by, feedback)))
        if action == "reject":
            self.reason = feedback

    def _finished(
        self, status: FinalStatus, pull_request: PullRequest | None, changes: Changes
    ) -> None:
        self.phase = status
        self.finished_at = _now()
        if self.waiting_since is not None:  # cancelled while waiting for a review
            self.waited += max((self.finished_at - self.waiting_since).total_seconds(), 0.0)
            self.waiting_since = None
        self.pull_request = pull_request or self.pull_request
        for name, mark in self.marks.items():
            if mark == "current":  # a cancelled step did not fail; it just never finished
                self.marks[name] = _FINAL_MARKS[status]
        self.line = ""
        changes.root = changes.urgent = changes.checklist = True
        if self.open_review is not None:
            ref, request = self.open_review
            note = replies.closed_review_note(status, self.cancelled_by)
            changes.milestones.append(CloseReview(ref, request, note))
            self.open_review = None
        reply = replies.finished_reply(self)
        if reply is not None:
            changes.milestones.append(Reply(*reply))
