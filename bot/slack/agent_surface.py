"""Slack's agent surface for one run: a session, a streamed task timeline, the review.

With `TASKMASTER_SLACK_SURFACE=agent` the thread of a run is an agent session
(`agents.sessions.setStatus`: `processing` while the agent works, `suspended` while it
waits for a review, `closed` at the end), which gives people Slack's own Stop button.
Its progress is one streamed message (`chat.startStream` / `appendStream` /
`stopStream`) with a `task_update` per checklist step (the "now:" line as the current
step's details, the latest test result as the test step's output) and a `plan_update`
when the plan is ready. A review stops the stream with the review's blocks: the very
blocks, action ids and button values of the thread surface, so every click goes
through the same claim.

Each task update carries the whole state of its task, so a stream Slack sealed
(`message_not_in_streaming_state`) is replaced by a new one that starts with every
task as it stands: nothing is lost. A workspace that refuses the agent methods
(`not_allowed`, `feature_not_enabled`, a missing scope) raises `AgentRefused`; the
reporter then shows the run as a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from agent.events import STEP_LABELS, STEPS, StepName
from agent.models import Plan
from bot.slack.mrkdwn import clip
from bot.slack.runview import Mark, RunView

log = logging.getLogger(__name__)

Surface = Literal["thread", "agent"]
SessionStatus = Literal["processing", "active", "suspended", "closed"]
# What a workspace answers when it does not offer the agent surface to this app.
REFUSALS = frozenset(
    {
        "not_allowed",
        "feature_not_enabled",
        "missing_scope",
        "unknown_method",
        "not_allowed_token_type",
    }
)
SEALED = "message_not_in_streaming_state"
MAX_TITLE = 256  # Slack's limit on a task's and a plan's title
MAX_DETAILS = 1000
_STATUS: dict[Mark, str] = {
    "pending": "pending",
    "current": "in_progress",
    "done": "complete",
    "failed": "error",
}

Task = tuple[str, str | None, str | None]  # status, details, output


class AgentRefused(Exception):
    """The workspace refuses Slack's agent methods; `error` is Slack's code."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


@dataclass
class AgentRun:
    """What the agent surface has told Slack about one run, and what it has yet to."""

    stream_ts: str | None = None
    streaming: bool = False
    sent: dict[StepName, Task] = field(default_factory=dict)  # as Slack shows them
    seen: dict[StepName, str] = field(default_factory=dict)  # each task's latest status
    transitions: list[tuple[StepName, Task]] = field(default_factory=list)  # not yet sent
    plan: Plan | None = None  # the plan, once known: every new stream starts with it
    plan_sent: bool = False
    session: SessionStatus | None = None

    def observe(self, view: RunView) -> None:
        """Keep each status change (a step that starts and ends between two writes
        still shows as in progress, then complete: one call carries both)."""
        for step, task in tasks(view).items():
            if self.seen.get(step, task[0]) != task[0]:
                self.transitions.append((step, task))
            self.seen[step] = task[0]


def tasks(view: RunView) -> dict[StepName, Task]:
    """Each checklist step as a task: status, the "now:" line, the test result."""
    out: dict[StepName, Task] = {}
    for step in STEPS:
        mark = view.marks[step]
        details = clip(view.line, MAX_DETAILS) if mark == "current" and view.line else None
        if mark == "pending" and view.phase == "cancelled":
            details = "Not run: the run was cancelled"
        output = None
        if step == "test" and view.tests is not None:
            output = clip(f"{view.tests.headline} ({view.tests.command})", MAX_DETAILS)
        out[step] = (_STATUS[mark], details, output)
    return out


def task_chunk(step: StepName, task: Task) -> dict[str, Any]:
    status, details, output = task
    chunk = TaskUpdateChunk(
        id=step,
        title=clip(STEP_LABELS[step], MAX_TITLE),
        status=status,
        details=details,
        output=output,
    )
    return chunk.to_dict()


def plan_chunks(plan: Plan) -> list[dict[str, Any]]:
    title = clip(plan.summary.splitlines()[0] if plan.summary else "Plan", MAX_TITLE)
    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(plan.steps, 1))
    chunks = [PlanUpdateChunk(title=title).to_dict()]
    if steps:
        chunks.append(MarkdownTextChunk(text=clip(steps, 4000) + "\n").to_dict())
    return chunks


def _pending(view: RunView, run: AgentRun, *, every: bool = False) -> list[dict[str, Any]]:
    """What Slack has not been shown: the plan, each status change in order, then every
    task whose state differs (every task, for a new stream)."""
    chunks = plan_chunks(run.plan) if run.plan is not None and (every or not run.plan_sent) else []
    now = tasks(view)
    last = dict(run.sent)
    if every:  # a new stream lists the checklist in order, as Slack last showed it
        last = {step: run.sent.get(step, task) for step, task in now.items()}
        chunks += [task_chunk(step, task) for step, task in last.items()]
    for step, task in [*run.transitions, *now.items()]:
        if last.get(step) != task:
            chunks.append(task_chunk(step, task))
            last[step] = task
    return chunks


def _delivered(view: RunView, run: AgentRun) -> None:
    run.sent = tasks(view)
    run.transitions.clear()
    run.plan_sent = run.plan_sent or run.plan is not None


class AgentWriter:
    """The agent surface's Slack calls for a run; the reporter decides when to make them."""

    def __init__(self, client: Callable[[], AsyncWebClient]) -> None:
        self._client = client
        self._team: str | None = None

    async def progress(self, view: RunView, run: AgentRun) -> None:
        """Bring the stream up to date while the agent works: the session `processing`,
        every change (and the plan) sent, a new stream if there is none."""
        if view.finished:
            await self.finish(view, run)
            return
        if view.phase != "running":
            return  # waiting for a review: the review message says it all
        await self._status(view, run, "processing")
        if not run.streaming:
            await self._open(view, run)
            return
        chunks = _pending(view, run)
        if not chunks:
            return
        assert run.stream_ts is not None
        if await self._stream_call(
            run,
            "chat.appendStream",
            self._slack().chat_appendStream,
            channel=view.channel,
            ts=run.stream_ts,
            chunks=chunks,
        ):
            _delivered(view, run)
        else:
            await self._open(view, run)  # sealed: a new stream with everything

    async def review(self, view: RunView, run: AgentRun, blocks: list[Any]) -> str:
        """End the stream with the review's blocks and buttons; the session waits."""
        while True:
            if not run.streaming:
                await self._open(view, run)
            assert run.stream_ts is not None
            if await self._stream_call(
                run,
                "chat.stopStream",
                self._slack().chat_stopStream,
                channel=view.channel,
                ts=run.stream_ts,
                blocks=blocks,
                chunks=_pending(view, run) or None,
                session_status="suspended",
            ):
                _delivered(view, run)
                run.streaming, run.session = False, "suspended"
                return run.stream_ts

    async def finish(self, view: RunView, run: AgentRun) -> None:
        """The run ended: the tasks' last states in a stream, then the session closed."""
        if run.session == "closed":
            return
        if not run.streaming and (run.sent != tasks(view) or run.transitions):
            await self._open(view, run)  # the last states were never shown: show them
        if run.streaming and run.stream_ts is not None:
            if await self._stream_call(
                run,
                "chat.stopStream",
                self._slack().chat_stopStream,
                channel=view.channel,
                ts=run.stream_ts,
                chunks=_pending(view, run) or None,
                session_status="closed",
            ):
                _delivered(view, run)
                run.streaming, run.session = False, "closed"
                return
            await self.finish(view, run)  # sealed, or stopped by Slack's Stop button
            return
        await self._status(view, run, "closed")

    # -- calls ---------------------------------------------------------------------------------

    async def _stream_call(
        self, run: AgentRun, method: str, call: Callable[..., Awaitable[Any]], **args: Any
    ) -> bool:
        """A call on the open stream; False when Slack says it is no longer streaming
        (sealed a few minutes into a long turn, or stopped by the Stop button)."""
        try:
            await self._call(method, call(**args))
        except SlackApiError as error:
            if error.response.get("error") != SEALED:
                raise
            log.info("a stream in %s is no longer open; opening another", args["channel"])
            run.streaming = False
            return False
        return True

    async def _open(self, view: RunView, run: AgentRun) -> None:
        """A new stream that starts with every task as it stands (and the plan)."""
        run.streaming = False
        started = await self._call(
            "chat.startStream",
            self._slack().chat_startStream(
                channel=view.channel,
                thread_ts=view.root_ts,
                recipient_user_id=view.requester,
                recipient_team_id=await self._team_id(),
                task_display_mode="timeline",
                chunks=_pending(view, run, every=True),
            ),
        )
        run.stream_ts, run.streaming = str(started["ts"]), True
        _delivered(view, run)
        view.progress_ts = run.stream_ts

    async def _status(self, view: RunView, run: AgentRun, status: SessionStatus) -> None:
        if run.session == status:
            return
        await self._call(
            "agents.sessions.setStatus",
            self._slack().agents_sessions_setStatus(
                channel_id=view.channel,
                thread_ts=view.root_ts,
                status=status,
                title=clip(f"{view.ticket}: {view.title}" if view.title else view.ticket, 200),
            ),
        )
        run.session = status

    async def _team_id(self) -> str:
        if self._team is None:
            answer = await self._slack().auth_test()
            self._team = str(answer["team_id"])
        return self._team

    async def _call(self, method: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in REFUSALS:
                raise AgentRefused(method, code) from error
            raise

    def _slack(self) -> AsyncWebClient:
        return self._client()
