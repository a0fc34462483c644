"""The thread reporter: the Slack surface's `EventSink` (docs/architecture.md, Slack).

Each run has an outbox and one writer task. The sink only folds the event into the
run's `RunView` and queues what must be posted, so a slow or rate-limited Slack never
slows the run. The writer posts the root message first (the run starts once it is
there), then milestones in order, and edits the root and progress messages from the
*latest* state:

- a step that starts or ends shows within `min_interval` (events in between are folded
  into one edit);
- otherwise the card is edited once per `heartbeat` while the agent works, so its clock
  and "now:" line move without an edit per event: the number of calls of a run does not
  grow with the model's speed;
- a review to answer and the end are written at once.

A call that still fails after the client's own retries stays at the head of the outbox
and is tried again later; the root message and a review request are retried for as
long as the process runs (a run waits on each), other replies up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from agent.events import Event
from agent.runs.lease import holder_alive, process_name, retire
from agent.runs.records import RunRecord, RunRegistry
from bot.slack import blocks, cards, replies
from bot.slack.agent_surface import AgentRefused, AgentRun, AgentWriter, Surface
from bot.slack.code_channels import CodeChannelWriter, CodeRun
from bot.slack.reviewers import Reviewers
from bot.slack.runview import CloseReview, Milestone, PlanReply, PostReview, Reply, RunView
from bot.slack.threads import ThreadStore

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 30.0
MAX_ATTEMPTS = 10  # for replies; edits and review requests are retried until written
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


RootHook = Callable[[RunView], Awaitable[None]]
RefusalHook = Callable[[RunView, BaseException], Awaitable[None]]


@dataclass(frozen=True)
class _CreateRoot:
    """The run's root message in the channel; the run starts when it is posted."""

    on_posted: RootHook
    on_refused: RefusalHook


@dataclass(frozen=True)
class _CreateProgress:
    """The progress message itself: the first reply of the thread."""


@dataclass(frozen=True)
class _RootPosted:
    """Start the run once its thread has both messages (see `start_after_progress`)."""

    on_posted: RootHook


@dataclass(frozen=True)
class _UploadDiff:
    review: PostReview


@dataclass(frozen=True)
class _OpenCodeChannel:
    """The run's code channel, made from its root message."""


@dataclass(frozen=True)
class _ShowDiff:
    """A review's diff in the code channel's diff tab."""

    review: PostReview


@dataclass(frozen=True)
class _EndStream:
    """The run ended: on the agent surface its stream shows the last states first, so
    the closing reply comes after them, not before a stream that reopens."""


@dataclass(frozen=True)
class _CloseCodeChannel:
    """The run ended: its summary in the code channel, which is then archived."""


_Op = (
    Milestone
    | _CreateRoot
    | _CreateProgress
    | _EndStream
    | _RootPosted
    | _UploadDiff
    | _OpenCodeChannel
    | _ShowDiff
    | _CloseCodeChannel
)


HEARTBEAT_S = 20.0  # while a run works, its card's clock moves this often


@dataclass
class _Outbox:
    view: RunView
    queue: deque[_Op] = field(default_factory=deque)
    root_dirty: bool = False
    progress_dirty: bool = False
    checklist: bool = False  # a step changed: show it within min_interval
    urgent: bool = False
    closing: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_edit: float = float("-inf")
    last_root_edit: float = float("-inf")
    failures: int = 0
    refusal: Exception | None = None
    refused_root: _CreateRoot | None = None
    task: asyncio.Task[None] | None = None
    agent: AgentRun | None = None  # shown on Slack's agent surface (None: as a thread)
    code: CodeRun | None = None  # the run's code channel (None: it has none)

    @property
    def idle(self) -> bool:
        return not (self.queue or self.root_dirty or self.progress_dirty)

    def forget_progress(self) -> None:
        self.progress_dirty = self.checklist = False

    def forget_root(self) -> None:
        self.root_dirty = False


def retryable(exc: Exception) -> bool:
    """Rate limits, server errors and broken connections pass; Slack's refusals do not."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        return status in _RETRY_STATUSES or exc.response.get("error") in _RETRY_ERRORS
    # SlackRequestError: a file upload the upload URL refused (its status is not kept).
    return isinstance(exc, (SlackRequestError, aiohttp.ClientError, TimeoutError, OSError))


class ThreadReporter:
    """Renders every run's events into its Slack thread; `attach()` it before runs start."""

    def __init__(
        self,
        *,
        reviewers: Reviewers | None = None,
        min_interval: float = 2.0,
        heartbeat: float = HEARTBEAT_S,
        retry_delay: float = 0.25,
        surface: Surface = "thread",
        code_channels: bool = False,
        start_after_progress: bool = False,
    ) -> None:
        """`start_after_progress`: a new run starts only once its progress message is
        posted too. Set when workers drive the runs (PostgreSQL): a worker writes the
        thread from the messages recorded, so both must be recorded before it starts."""
        self.reviewers = reviewers or Reviewers()
        self.start_after_progress = start_after_progress
        self.surface = surface
        self.code_channels = code_channels and surface == "agent"
        if code_channels and surface != "agent":
            log.warning(
                "TASKMASTER_SLACK_CODE_CHANNELS=on needs TASKMASTER_SLACK_SURFACE=agent; "
                "runs get no code channel"
            )
        self._agent = AgentWriter(self._slack)
        self._code = CodeChannelWriter(self._slack)
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self.retry_delay = retry_delay
        self._client: AsyncWebClient | None = None
        self._store: RunRegistry | None = None
        self._threads: ThreadStore | None = None
        self._boxes: dict[str, _Outbox] = {}
        self._attaching = asyncio.Lock()
        self._name = process_name()  # who claims the reviews this reporter posts

    def attach(self, client: AsyncWebClient, store: RunRegistry, threads: ThreadStore) -> None:
        """Give the reporter its Slack client, the registry and the thread store (made
        after the sink)."""
        self._client, self._store, self._threads = client, store, threads

    def start(self, view: RunView, *, on_posted: RootHook, on_refused: RefusalHook) -> None:
        """Report a new run: post its root message (retried like every other message),
        then call `on_posted` (which starts the run); `on_refused` if Slack refuses it."""
        self._open(view, root=_CreateRoot(on_posted, on_refused))

    def tracking(self, run_id: str) -> bool:
        return run_id in self._boxes

    def stream_stopped(self, run_id: str) -> None:
        """Slack stopped the run's stream itself (its Stop button): the next write opens one."""
        box = self._boxes.get(run_id)
        if box is not None and box.agent is not None:
            box.agent.streaming = False

    async def close_review(self, close: CloseReview) -> None:
        """Say on a review message who decided, instead of its buttons.

        It goes through the run's outbox like every other write, so it is retried
        when Slack fails, and it works for a run this process has not shown yet
        (a click after a restart).
        """
        run_id = close.ref.run_id
        box = self._boxes.get(run_id) or await self._reattach(run_id)
        if box is None:
            return
        box.queue.append(close)
        box.wake.set()

    async def __call__(self, run: RunRecord, event: Event) -> None:
        box = self._boxes.get(run.run_id) or await self._reattach(run.run_id)
        if box is None:
            return  # not a run shown in Slack (started in a terminal)
        changes = box.view.apply(event)
        if box.agent is not None:
            box.agent.observe(box.view)
            if box.view.finished and changes.milestones:
                box.queue.append(_EndStream())
        box.queue.extend(changes.milestones)
        box.root_dirty |= changes.root
        box.progress_dirty |= changes.progress
        box.checklist |= changes.checklist
        box.urgent |= changes.urgent
        if box.code is not None and box.view.finished and not box.code.archived:
            box.queue.append(_CloseCodeChannel())
        box.wake.set()

    async def aclose(self, grace: float = 2.0) -> None:
        """Write what is pending (for up to `grace` seconds), then stop every writer."""
        boxes = list(self._boxes.values())
        for box in boxes:
            box.closing = box.urgent = True
            box.wake.set()
        tasks = [box.task for box in boxes if box.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._boxes.clear()
        retire(self._name)  # a review it claimed and never posted is free for the next

    # -- runs ---------------------------------------------------------------------------------

    def _open(self, view: RunView, *, root: _CreateRoot | None = None) -> _Outbox:
        box = _Outbox(view)
        if self.surface == "agent":
            box.agent = AgentRun(stream_ts=view.progress_ts)
        if self.code_channels:
            box.code = CodeRun()
            if root is None:  # re-attached: the channel exists (made once per run id)
                box.queue.append(_OpenCodeChannel())
        if root is not None:
            box.queue.append(root)
        if view.progress_ts is None:
            box.queue.append(_CreateProgress())
        self._boxes[view.run_id] = box
        box.task = asyncio.create_task(self._write(box), name=f"slack-thread-{view.run_id}")
        return box

    async def _reattach(self, run_id: str) -> _Outbox | None:
        """A run this process has not shown yet (a restart): find its messages in the registry."""
        async with self._attaching:
            if run_id in self._boxes:
                return self._boxes[run_id]
            record = await self._registry().get(run_id)
            thread = await self._thread_store().get(run_id)
            if record is None or thread is None or not thread.root_ts:
                return None
            log.info("re-attaching run %s to its thread %s", run_id, thread.root_ts)
            view = RunView.from_record(record, thread)
            box = self._open(view)
            box.root_dirty = True  # it may still show an older state (Failed, before a retry)
            return box

    # -- the writer ---------------------------------------------------------------------------

    async def _write(self, box: _Outbox) -> None:
        loop = asyncio.get_running_loop()
        while True:
            box.wake.clear()
            if box.queue:
                head = box.queue[0]
                # The root message and a review request are what a run waits on.
                persist = isinstance(head, PostReview | _CreateRoot)
                drop = self._refused_root(box) if isinstance(head, _CreateRoot) else None
                await self._attempt(
                    box, self._send_head, drop=drop or box.queue.popleft, persist=persist
                )
                if box.refused_root is not None:
                    hook, box.refused_root = box.refused_root, None
                    error = box.refusal or RuntimeError("Slack refused the message")
                    await _safely(hook.on_refused(box.view, error), box.view.run_id)
                continue
            now = loop.time()
            progress, root = self._progress_due(box, now), self._root_due(box, now)
            due = min((t for t in (progress, root) if t is not None), default=None)
            if due is None:
                if box.view.finished or box.closing:
                    if self._boxes.get(box.view.run_id) is box:
                        del self._boxes[box.view.run_id]
                    return
                await box.wake.wait()
                continue
            if due > now:
                await _wait(box.wake, due - now)  # let more events pile up into one edit
                continue
            if progress is not None and progress <= now:
                box.last_edit = now
                box.progress_dirty = True  # a heartbeat: the clock moved
                await self._attempt(box, self._edit_progress, drop=box.forget_progress)
            if root is not None and root <= now:
                box.last_root_edit = now
                await self._attempt(box, self._edit_root, drop=box.forget_root)
            box.urgent = box.urgent and not box.idle

    def _progress_due(self, box: _Outbox, now: float) -> float | None:
        """When the card is next edited (loop time), or None while nothing needs it."""
        if box.progress_dirty and box.urgent:
            return now
        if box.checklist:
            return box.last_edit + self.min_interval
        # The clock moves only where the run is driven: a `serve` whose workers drive the
        # runs (`start_after_progress`) knows nothing of their progress, and a card it
        # redrew would undo theirs.
        ticking = box.view.ticking and not box.closing and not self.start_after_progress
        if box.progress_dirty or ticking:
            return box.last_edit + self.heartbeat  # the clock and "now:" line move
        return None

    def _root_due(self, box: _Outbox, now: float) -> float | None:
        if not box.root_dirty:
            return None
        return now if box.urgent else box.last_root_edit + self.min_interval

    def _refused_root(self, box: _Outbox) -> Callable[[], object]:
        """Slack will not take the root message: the run cannot be shown, so it does not start."""

        def give_up() -> None:
            head = box.queue[0]
            assert isinstance(head, _CreateRoot)
            box.queue.clear()
            box.root_dirty = box.progress_dirty = box.checklist = False
            box.closing = True
            box.refused_root = head

        return give_up

    async def _attempt(
        self,
        box: _Outbox,
        send: Callable[[_Outbox], Coroutine[Any, Any, None]],
        drop: Callable[[], object],
        *,
        persist: bool = True,
    ) -> None:
        """One Slack write; a transient failure waits and leaves it to be tried again.

        With `persist`, transient failures are retried for as long as the process runs:
        edits carry the run's latest state and a review request is what the run waits
        on. Other replies give up after MAX_ATTEMPTS, loudly, so one message cannot hold
        up the thread.
        """
        try:
            await send(box)
        except AgentRefused as refused:
            self._fall_back(box, refused)  # the same write is tried again, as a thread
        except Exception as exc:  # the writer's boundary: one bad message must not stop the rest
            box.failures += 1
            box.refusal = exc
            if retryable(exc) and (persist or box.failures < MAX_ATTEMPTS):
                delay = min(self.retry_delay * 2 ** (box.failures - 1), MAX_RETRY_DELAY)
                log.warning(
                    "Slack call for run %s failed (%s); retrying in %.1fs",
                    box.view.run_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                return
            log.error("giving up on a Slack message of run %s", box.view.run_id, exc_info=exc)
            box.failures = 0
            drop()
        else:
            box.failures = 0

    def _fall_back(self, box: _Outbox, refused: AgentRefused) -> None:
        """The workspace refuses the agent surface: this run goes on as a thread.

        Its card is posted with everything the run did so far (the view holds it all),
        before whatever was to be written next; a plan not yet streamed becomes a reply.
        """
        run, box.agent, box.code = box.agent, None, None
        box.queue = deque(op for op in box.queue if not isinstance(op, _CODE_OPS))
        log.warning(
            "Slack refused the agent surface for run %s (%s); showing it as a thread",
            box.view.run_id,
            refused,
        )
        if run is not None and run.plan is not None and not run.plan_sent:
            box.queue.appendleft(Reply(*replies.plan_reply(run.plan)))
        if not (box.queue and isinstance(box.queue[0], _CreateProgress)):
            box.view.progress_ts = None
            box.queue.appendleft(_CreateProgress())
        box.failures = 0

    async def _send_head(self, box: _Outbox) -> None:
        op = box.queue[0]
        view = box.view
        if isinstance(op, PostReview) and not await self._thread_store().claim_review(
            view.run_id, op.ref.interrupt_id, self._name, holder_alive
        ):
            # Shown already, or another process (a worker, a serve starting) posts it.
            log.info("the review of run %s is another process's to post", view.run_id)
            box.queue.popleft()
            return
        if box.agent is not None and await self._agent_head(box, op):
            box.queue.popleft()
            return
        match op:
            case _CreateRoot(on_posted=on_posted):
                text, body = cards.root_message(view)
                posted = await self._slack().chat_postMessage(
                    channel=view.channel, text=text, blocks=body
                )
                view.root_ts = str(posted["ts"])
                box.last_root_edit = asyncio.get_running_loop().time()
                box.queue.popleft()  # posted: whatever follows must not post it again
                await self._thread_store().save(view.run_id, view.channel, root_ts=view.root_ts)
                if self.start_after_progress:
                    at = next(
                        (
                            i + 1
                            for i, op in enumerate(box.queue)
                            if isinstance(op, _CreateProgress)
                        ),
                        0,
                    )
                    box.queue.insert(at, _RootPosted(on_posted))
                if box.code is not None:
                    box.queue.appendleft(_OpenCodeChannel())
                if not self.start_after_progress:
                    await on_posted(view)
                return
            case _CreateProgress():
                text, body = cards.progress_message(view, _now())
                progress_ts = await self._post(view, text, body)
                view.progress_ts = progress_ts
                box.last_edit = asyncio.get_running_loop().time()  # as good as an edit
                box.progress_dirty = box.checklist = False
                await self._thread_store().save(view.run_id, view.channel, progress_ts=progress_ts)
            case _RootPosted(on_posted=on_posted):
                box.queue.popleft()
                await on_posted(view)
                # Handed to the workers, which write the thread from now on: this
                # process's view of the run would only go stale (and overwrite theirs).
                box.closing = True
                return
            case Reply(text=text, blocks=body):
                await self._post(view, text, body)
            case PostReview(ref=ref, request=request):
                text, body = blocks.review_message(
                    ref, request, requester=view.requester, reviewers=self.reviewers
                )
                view.review_ts = await self._post(view, text, body)
                await self._thread_store().save(
                    view.run_id, view.channel, review_ts=view.review_ts, review_for=ref.interrupt_id
                )
                box.queue.insert(1, _UploadDiff(op))  # its own step: a failed upload never reposts
            case _UploadDiff(review=review):
                await self._upload_diff(view, review)
            case CloseReview(ref=ref, request=request, note=note, message_ts=message_ts):
                ts = message_ts or view.review_ts
                if ts is not None:
                    text, body = blocks.review_message(
                        ref,
                        request,
                        requester=view.requester,
                        reviewers=self.reviewers,
                        closed=note,
                    )
                    await self._slack().chat_update(
                        channel=view.channel, ts=ts, text=text, blocks=body
                    )
        box.queue.popleft()

    async def _agent_head(self, box: _Outbox, op: _Op) -> bool:
        """Write `op` on the agent surface; False when it is written as on a thread."""
        view, run = box.view, box.agent
        assert run is not None
        match op:
            case _CreateProgress():
                await self._agent.progress(view, run)
                box.last_edit = asyncio.get_running_loop().time()
                box.progress_dirty = box.checklist = False
                await self._thread_store().save(
                    view.run_id, view.channel, progress_ts=view.progress_ts
                )
                return True
            case PlanReply(plan=plan) if plan is not None:
                run.plan = plan  # streamed as a plan_update with the next edit
                box.progress_dirty = box.checklist = True
                return True
            case PostReview(ref=ref, request=request):
                _, body = blocks.review_message(
                    ref, request, requester=view.requester, reviewers=self.reviewers
                )
                view.review_ts = await self._agent.review(view, run, body)
                await self._thread_store().save(
                    view.run_id, view.channel, review_ts=view.review_ts, review_for=ref.interrupt_id
                )
                box.queue.insert(1, _UploadDiff(op))
                if box.code is not None:
                    box.queue.insert(1, _ShowDiff(op))
                return True
            case _EndStream():
                await self._agent.finish(view, run)
                return True
            case _OpenCodeChannel() if box.code is not None:
                await self._code.open(view, box.code)
                return True
            case _ShowDiff(review=shown) if box.code is not None:
                await self._code.show_diff(view, box.code, shown.request)
                return True
            case _CloseCodeChannel() if box.code is not None:
                await self._code.close(view, box.code, code_summary(view))
                return True
            case _OpenCodeChannel() | _ShowDiff() | _CloseCodeChannel():
                return True  # no code channel (any more): nothing to write
        return False

    async def _edit_progress(self, box: _Outbox) -> None:
        view = box.view
        box.progress_dirty = box.checklist = False
        if box.agent is not None:
            try:
                await self._agent.progress(view, box.agent)
            except Exception:
                box.progress_dirty = True
                raise
            return
        if view.progress_ts is None:  # its post was given up on: nothing to edit
            return
        text, body = cards.progress_message(view, _now())
        try:
            await self._slack().chat_update(
                channel=view.channel, ts=view.progress_ts, text=text, blocks=body
            )
        except Exception:
            box.progress_dirty = True
            raise

    async def _edit_root(self, box: _Outbox) -> None:
        view = box.view
        box.root_dirty = False
        text, body = cards.root_message(view)
        try:
            await self._slack().chat_update(
                channel=view.channel, ts=view.root_ts, text=text, blocks=body
            )
        except Exception:
            box.root_dirty = True
            raise

    async def _post(self, view: RunView, text: str, body: list[dict[str, Any]]) -> str:
        response = await self._slack().chat_postMessage(
            channel=view.channel, thread_ts=view.root_ts, text=text, blocks=body
        )
        return str(response["ts"])

    async def _upload_diff(self, view: RunView, review: PostReview) -> None:
        request = review.request
        if not request.diff.strip():
            return
        await self._slack().files_upload_v2(
            channel=view.channel,
            thread_ts=view.root_ts,
            content=request.diff,
            filename=blocks.diff_filename(request),
            snippet_type="diff",
            title=f"{request.ticket.key}: review {request.iteration}, the whole change",
        )

    def _slack(self) -> AsyncWebClient:
        if self._client is None:
            raise RuntimeError("ThreadReporter.attach() was not called")
        return self._client

    def _registry(self) -> RunRegistry:
        if self._store is None:
            raise RuntimeError("ThreadReporter.attach() was not called")
        return self._store

    def _thread_store(self) -> ThreadStore:
        if self._threads is None:
            raise RuntimeError("ThreadReporter.attach() was not called")
        return self._threads


_CODE_OPS = (_OpenCodeChannel, _ShowDiff, _CloseCodeChannel)


def code_summary(view: RunView) -> str:
    """How the run ended, for its code channel's last message (its archive summary)."""
    if view.phase == "done" and view.pull_request is not None:
        return f"{view.ticket}: done. Pull request: {view.pull_request.url}"
    if view.phase == "failed":
        return f"{view.ticket}: failed. {view.failure or ''}".strip()
    return f"{view.ticket}: {view.phase}. Nothing was pushed."


def _now() -> datetime:
    return datetime.now(UTC)


async def _safely(hook: Awaitable[None], run_id: str) -> None:
    try:
        await hook
    except Exception:  # a surface's hook must not stop the writer
        log.exception("a hook of run %s failed", run_id)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event`, or `seconds`, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
