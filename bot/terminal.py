"""The terminal surface: one readable line per event, and the review in full."""

from __future__ import annotations

import sys
from typing import TextIO

from agent.events import (
    STEP_LABELS,
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
    TestsRan,
    TicketLoaded,
    TicketUpdated,
    ToolUsed,
    UsageReported,
)
from agent.models import ReviewRequest
from agent.runs.store import RunRecord
from agent.usage import RunUsage
from bot.invocation import invocation

_COLOURS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
_RESET = "\033[0m"
_STEP_MARKS = {"started": "…", "done": "✓", "failed": "✗"}


class TerminalSink:
    """Prints every event of the runs this process drives.

    The model's usage is shown where a run pauses or ends, not after every call;
    a failed run ends with the command that continues it.
    """

    def __init__(
        self, out: TextIO = sys.stdout, colour: bool | None = None, *, demo: bool = False
    ) -> None:
        self._out = out
        self._colour = out.isatty() if colour is None else colour
        self._demo = demo
        self._usage: dict[str, RunUsage] = {}

    async def __call__(self, run: RunRecord, event: Event) -> None:
        if isinstance(event, UsageReported):
            self._usage[run.run_id] = event.usage
        lines = render_event(run, event, colour=self._colour)
        usage = self._usage.get(run.run_id)
        if usage is not None and isinstance(event, ReviewRequested | RunFinished):
            lines.append(f"  model: {usage.describe()}")
        if isinstance(event, RunFinished) and event.status == "failed":
            demo = " --demo" if self._demo else ""
            lines.append(f"  continue it with: {invocation()} resume {run.run_id}{demo}")
        for line in lines:
            print(line, file=self._out, flush=True)


def render_event(run: RunRecord, event: Event, *, colour: bool = False) -> list[str]:
    match event:
        case RunStarted():
            return [f"▶ {event.ticket}: run {run.run_id} started by {event.requester}"]
        case RunQueued():
            ahead = f"{event.ahead} ahead" if event.ahead else "next in line"
            return [f"  waiting for a free slot (TASKMASTER_MAX_RUNS; {ahead})"]
        case Step():
            return [f"{_STEP_MARKS[event.status]} {STEP_LABELS[event.name]}"]
        case TicketLoaded():
            return [f"  {event.ticket.key}: {event.ticket.title}"]
        case PlanReady():
            steps = [f"    {n}. {step}" for n, step in enumerate(event.plan.steps, start=1)]
            return [f"  plan: {event.plan.summary}", *steps]
        case ToolUsed():
            return [f"  · {event.line}"]
        case TestsRan():
            return [f"  tests ({event.result.command}): {event.result.headline}"]
        case ReviewRequested():
            return render_review(event.request, colour=colour)
        case DecisionMade():
            feedback = f": {event.feedback}" if event.feedback else ""
            return [f"  {event.action} by {event.by}{feedback}"]
        case PullRequestOpened():
            pr = event.pull_request
            return [f"  pull request #{pr.number} opened: {pr.url}"]
        case TicketUpdated():
            moved = f", moved to {event.transition}" if event.transition else ""
            return [f"  {event.ticket} updated (comment {event.comment_id}{moved})"]
        case RunFinished():
            link = f": {event.pull_request.url}" if event.pull_request else ""
            return [f"■ {run.ticket} {event.status}{link}"]
        case ErrorRaised():
            return [f"✗ {event.message} ({event.kind})"]
        case UsageReported():
            return []  # shown with the review and the end (TerminalSink)


def render_review(request: ReviewRequest, *, colour: bool = False) -> list[str]:
    total = request.iteration + request.revisions_left
    lines = [
        "",
        f"━━ Review {request.iteration} of {total}: {request.ticket.key} {request.ticket.title}",
    ]
    if request.summary:
        lines.append(f"  {request.summary}")
    lines += [f"  {f.path}  +{f.added} -{f.removed}" for f in request.files] or ["  (no changes)"]
    if not request.touches_tests:
        lines.append("  ⚠ no test file changed")
    lines += [f"  ⚠ {warning}" for warning in request.warnings]
    tests = request.tests
    lines.append(f"  tests: {tests.headline}" if tests else "  tests: no test command found")
    lines.append("")
    lines += [_colour_line(line) if colour else line for line in request.diff.splitlines()]
    if request.diff_note:
        lines += ["", f"  ⚠ {request.diff_note}"]
    return lines


def _colour_line(line: str) -> str:
    if line.startswith(("+++", "---")):
        return line
    start = _COLOURS.get(line[:1])
    return f"{start}{line}{_RESET}" if start else line
