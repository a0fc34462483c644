"""The run lifecycle every surface shares: start, decide, continue, cancel, recover.

Surfaces (the Slack app, the terminal) never touch the graph. They call the manager,
and the manager hands them every event of a run through their `EventSink`. The
registry (`RunRegistry`) is the source of truth for a run's status; a review click is
applied only by the one caller whose conditional update wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Interrupt, StateSnapshot

from agent.deps import Deps
from agent.errors import Budget, BudgetExhausted, ErrorKind, TaskmasterError, classify
from agent.errors import RunRefused as RunRefused  # surfaces import it from here
from agent.events import (
    ErrorRaised,
    Event,
    ReviewRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    Step,
    StepName,
    TicketLoaded,
    UsageReported,
    parse_event,
)
from agent.graph import Graph
from agent.models import (
    ACTIVE_STATUSES,
    FinalStatus,
    Note,
    PullRequest,
    ReviewDecision,
    ReviewRequest,
    RunStatus,
    Ticket,
)
from agent.runs.checkpoints import Checkpoints, thread_id
from agent.runs.lease import LEASE_S, holder_alive, process_name, retire
from agent.runs.queue import RunQueue
from agent.runs.records import RunRecord, RunRegistry, TicketBusy
from agent.storage import StorageFault, storage_fault
from agent.ticket_limits import bounded
from agent.tools import command_groups
from agent.workspaces import remove_workspace, workspace_path

log = logging.getLogger(__name__)

RECURSION_LIMIT = 1000
# How often a running run's working time is saved in the registry (and always when it
# stops or pauses): a registry commit syncs the database's WAL, which every step
# paid for; a killed process now loses at most this much of the count.
SAVE_WORKED_EVERY_S = 5.0
# How long handing a run's lease back, or recording that its store failed, may take:
# with the store gone, the lease expires anyway and the run is left for `resume`.
RELEASE_WITHIN_S = 5.0
# The agent's own work, which TASKMASTER_MAX_MINUTES bounds; delivery after an
# approval is never stopped half way by it.
WORKING_NODES = frozenset(
    {"load_ticket", "prepare_workspace", "plan", "implement", "act", "verify", "prepare_review"}
)


class EventSink(Protocol):
    """Where a surface receives the events of every run this process drives."""

    async def __call__(self, run: RunRecord, event: Event) -> None: ...


def describe_decision(run: RunRecord) -> str:
    if run.decision is None:
        return f"This run is {run.status.replace('_', ' ')}."
    verb = {"approve": "approved", "reject": "rejected", "revise": "sent back for changes"}
    return f"Already {verb[run.decision.action]} by {run.decision.by}."


class RunManager:
    def __init__(
        self,
        graph: Graph,
        store: RunRegistry,
        checkpoints: Checkpoints,
        deps: Deps,
        sink: EventSink,
        *,
        queue: RunQueue | None = None,
        drives_here: bool = True,
        lease_s: float = LEASE_S,
    ) -> None:
        """`queue` set and `drives_here` False: a web process, whose runs are driven by
        workers (it enqueues them); a worker has both; with no queue (SQLite) the
        process drives every run it starts."""
        self.store = store
        self._queue = queue
        # How long a driver's claim outlives its last renewal: TASKMASTER_WORKER_TIMEOUT
        # in a worker, so a run on a lost machine moves within the stated bound.
        self._lease_s = lease_s
        self._drives_here = drives_here or queue is None
        self._graph = graph
        self._checkpoints = checkpoints
        self._deps = deps
        self._sink = sink
        self._slots = asyncio.Semaphore(deps.settings.max_runs)
        self._tasks: dict[str, asyncio.Task[RunRecord]] = {}
        self._waiting = 0
        self._name = process_name()

    @property
    def queue(self) -> RunQueue | None:
        """The work queue, on PostgreSQL in `serve` and `taskmaster worker`."""
        return self._queue

    # -- starting ---------------------------------------------------------------------

    def normalize_key(self, text: str) -> str:
        """The ticket source's key for what a person typed, or `invalid_input` before anything
        starts (Jira's `TASK-101`, GitLab's `#12`: each source knows its own)."""
        return self._deps.tickets.parse_key(text)

    @property
    def key_example(self) -> str:
        return self._deps.tickets.key_example

    async def create(self, key: str, requester: str) -> RunRecord:
        """Register a run for `key`; raises `TicketBusy` while another run has the ticket."""
        return await self.store.create(self.normalize_key(key), requester)

    async def fetch_ticket(self, key: str) -> Ticket:
        """The ticket, or the `TaskmasterError` (not found, no access...) before any run exists.

        A surface calls it first so a bad key is answered to the person who typed it,
        and hands the ticket to `launch`, so the run does not fetch it again.
        """
        return await self._deps.tickets.fetch(self.normalize_key(key))

    async def open_pull_request(self, key: str) -> PullRequest | None:
        """A pull request an earlier run of this ticket opened that is still open, if any."""
        for run in await self.store.delivered_for(self.normalize_key(key)):
            assert run.pull_request is not None
            found = await self._deps.code_host.find_pull_request(run.pull_request.branch)
            if found is not None:
                return found
        return None

    def launch(
        self, run: RunRecord, *, thread_url: str | None = None, ticket: Ticket | None = None
    ) -> asyncio.Task[RunRecord]:
        """Begin a created run in the background."""
        initial: dict[str, Any] = {
            "run_id": run.run_id,
            "ticket_key": run.ticket,
            "thread_url": thread_url,
        }
        if ticket is not None:
            bounded_ticket = bounded(ticket, self._deps.settings.max_ticket_chars)
            initial["ticket"] = bounded_ticket.model_dump(mode="json")
        first = RunStarted(ticket=run.ticket, requester=run.requester)
        return self._spawn(run, initial, first_event=first)

    async def abandon(self, run_id: str, message: str) -> None:
        """A created run that could not begin (its surface could not show it): failed, with
        `message`, never recorded as anybody's cancel. `resume` can still start it."""
        await self.store.transition(run_id, "failed", only_from=("running",), error=message)

    async def start(self, key: str, requester: str) -> RunRecord:
        run = await self.create(key, requester)
        self.launch(run)
        return run

    # -- deciding ---------------------------------------------------------------------

    async def pending_review(self, run_id: str) -> tuple[RunRecord, str, ReviewRequest]:
        """The run, its pending interrupt id and review request, or `RunRefused`."""
        run = await self._known(run_id)
        if run.status != "awaiting_review" or run.interrupt_id is None:
            raise RunRefused("decided" if run.decision else "stale", describe_decision(run), run)
        for pending in (await self.snapshot(run_id)).interrupts:
            if pending.id == run.interrupt_id:
                return run, pending.id, ReviewRequest.model_validate(pending.value)
        raise RunRefused("stale", "This review is no longer pending.", run)

    async def decide(
        self, run_id: str, decision: ReviewDecision, interrupt_id: str | None = None
    ) -> RunRecord:
        """Apply a person's decision exactly once; everyone else gets `RunRefused`.

        `interrupt_id` is the review the person saw (a button carries it); a stale
        button names an older one and is refused. None means "the pending one".
        """
        run, pending_id, request = await self.pending_review(run_id)
        if interrupt_id is not None and interrupt_id != pending_id:
            raise RunRefused("stale", "This review was replaced by a newer one.", run)
        if decision.action == "revise" and request.revisions_left <= 0:
            raise RunRefused(
                "not_allowed",
                f"No revisions left (TASKMASTER_MAX_REVISIONS="
                f"{self._deps.settings.max_revisions}): approve or reject this change.",
                run,
            )
        if not await self.store.claim_review(run_id, pending_id, decision):
            latest = await self.store.require(run_id)
            raise RunRefused("decided", describe_decision(latest), latest)
        claimed = await self.store.require(run_id)
        resume: Command[Any] = Command(resume={pending_id: decision.model_dump(mode="json")})
        self._spawn(claimed, resume)
        return claimed

    async def tell(
        self, run_id: str, text: str, *, by: str, by_name: str = ""
    ) -> Literal["noted", "revise"]:
        """Hand a person's words to a run.

        While it works they reach the model at its next turn ("noted"); while it waits
        for a review they are a request for changes, through the same claim as any
        other decision ("revise"). Anything else is `RunRefused`.
        """
        run = await self._known(run_id)
        if run.delivering:
            raise RunRefused("not_allowed", "It was approved and is being delivered.", run)
        if run.status == "awaiting_review":
            decision = ReviewDecision(action="revise", by=by, by_name=by_name, feedback=text)
            await self.decide(run_id, decision)
            return "revise"
        if run.status not in ("running", "resuming"):
            raise RunRefused(
                "finished", f"This run is {run.status}; it takes no more messages.", run
            )
        await self.store.add_note(run_id, by, by_name, text)
        return "noted"

    async def notes(self, run_id: str, after: int = 0) -> list[Note]:
        return await self.store.notes_after(run_id, after)

    # -- continuing, cancelling, recovering ---------------------------------------------

    async def resume(self, run_id: str) -> RunRecord:
        """Continue a run that stopped mid-step (crash, restart) or failed, from its checkpoint.

        The checkpoint decides, not the registry, because a process can be killed
        between writing one and the other: a run whose checkpoint holds a review the
        registry does not know is paused on it (nobody is asked for anything twice),
        a decision claimed for the pending review is applied without asking again, and
        a registry that says "awaiting review" for a review the checkpoint never got is
        driven on until it pauses for real.
        """
        run = await self._known(run_id)
        if run_id in self._tasks:
            raise RunRefused("stale", "This run is already going.", run)
        if run.status not in ("running", "resuming", "failed", "awaiting_review"):
            raise RunRefused("decided", describe_decision(run), run)
        snapshot = await self.snapshot(run_id)
        pending = {interrupt.id: interrupt for interrupt in snapshot.interrupts}
        if run.status == "awaiting_review" and run.interrupt_id in pending:
            raise RunRefused("not_allowed", "This run is waiting for a review decision.", run)
        if self._drives_here and not await self.store.take_lease(
            run_id, self._name, self._lease_s, holder_alive
        ):
            raise RunRefused("stale", "Another TaskMaster process is driving this run.", run)
        command_groups.end_left_behind(workspace_path(self._deps.workspaces, run_id))
        if not snapshot.created_at:  # never checkpointed: start it from the beginning
            await self.store.transition(run_id, "running", only_from=(run.status,))
            await self.store.release_lease(run_id, self._name)
            self.launch(run)
            return run
        payload, unrecorded = _continuation(run, snapshot)
        if unrecorded is not None:
            await self.store.release_lease(run_id, self._name)
            await self._pause(run, unrecorded, only_from=(run.status,))
            return await self.store.require(run_id)
        if run.status in ("failed", "awaiting_review"):
            try:
                await self.store.transition(
                    run_id, "running", only_from=(run.status,), keep_interrupt=True
                )
            except TicketBusy as busy:
                await self.store.release_lease(run_id, self._name)
                raise RunRefused(
                    "not_allowed",
                    f"{run.ticket} has another active run ({busy.run.run_id}); "
                    "cancel it before retrying this one.",
                    run,
                ) from None
        self._spawn(await self.store.require(run_id), payload)
        return run

    async def cancel(self, run_id: str, by: str) -> RunRecord:
        run = await self._known(run_id)
        if not await self.store.cancel(run_id, by):
            latest = await self.store.require(run_id)
            if latest.active:
                raise RunRefused(
                    "not_allowed",
                    "It was approved and is being delivered; it cannot be cancelled.",
                    latest,
                )
            raise RunRefused("decided", describe_decision(latest), latest)
        task = self._tasks.get(run_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._queue is not None:  # the worker driving it hears it at once (NOTIFY)
            await self._queue.abort(run_id)
        await self._finish(run, "cancelled", by=by)
        return await self.store.require(run_id)

    async def recover(self) -> list[RunRecord]:
        """On start-up: continue runs a stopped process left mid-step.

        One run that cannot be continued (a damaged checkpoint, say) never stops the
        others or the process: it is marked failed with the reason, which its surface
        shows, and the rest go on.
        """
        resumed = []
        for run in await self.store.with_status("running", "resuming", "awaiting_review"):
            if run.run_id in self._tasks:
                continue
            try:
                await self.resume(run.run_id)
            except RunRefused:  # driven by another live process, or waiting for a person
                continue
            except Exception as exc:
                await self.fail_unrecoverable(run, exc)
                continue
            resumed.append(run)
        return resumed

    async def unqueued(self, quiet_s: float) -> list[RunRecord]:
        """Runs a worker should be driving that the queue holds no job for: active,
        driven by nobody, unchanged for `quiet_s`. The process that was to enqueue one
        stopped first, or the database refused the job; without this such a run would
        wait for a `serve` to start. Empty without a queue (SQLite drives in-process)."""
        if self._queue is None:
            return []
        now = time.time()
        quiet_since = datetime.now(UTC) - timedelta(seconds=quiet_s)
        lost = []
        for run in await self.store.with_status("running", "resuming"):
            if run.owner is not None and (run.lease_until or 0.0) > now:
                continue  # driven, or just handed back and about to be again
            if datetime.fromisoformat(run.updated_at) > quiet_since:
                continue  # its process may still be about to enqueue it
            if not await self._queue.has_job(run.run_id):
                lost.append(run)
        return lost

    async def requeue(self, run: RunRecord) -> None:
        """Give a run `unqueued` found back to the workers: its job continues it from its
        checkpoint, or starts it from its ticket if it never made one."""
        assert self._queue is not None
        log.warning("run %s had no job; putting it back in the queue", run.run_id)
        await self._queue.enqueue(run.run_id)

    async def fail_unrecoverable(self, run: RunRecord, exc: BaseException) -> None:
        """Mark a run that cannot be continued failed, saying why, and tell its surface."""
        log.error("run %s cannot be continued: %r", run.run_id, exc)
        message = (
            f"It could not be continued after a restart ({type(exc).__name__}; the details "
            "are in TaskMaster's log). Start the ticket again."
        )
        with contextlib.suppress(Exception):
            await self.store.release_lease(run.run_id, self._name)
        if await self.store.transition(
            run.run_id, "failed", only_from=ACTIVE_STATUSES, error=message
        ):
            await self._emit(run, ErrorRaised(kind=ErrorKind.INTERNAL, message=message))
            await self._emit(run, RunFinished(status="failed"))

    async def snapshot(self, run_id: str) -> StateSnapshot:
        """The run's latest checkpointed graph state (empty for a run never started)."""
        return await self._graph.aget_state(self._config(run_id))

    async def wait(self, run_id: str) -> RunRecord:
        """Wait until this process stops driving the run (finished, failed or paused);
        a `StorageFault` that stopped it is raised (the store cannot say where it is)."""
        task = self._tasks.get(run_id)
        if task is not None:
            [outcome] = await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, StorageFault):
                raise outcome
        return await self.store.require(run_id)

    async def aclose(self) -> None:
        """Stop driving runs; they stay `running` and `recover()` continues them later."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        retire(self._name)

    # -- driving ----------------------------------------------------------------------

    async def drive_queued(self, run_id: str, initial: dict[str, Any] | None) -> None:
        """A worker's job: drive the run from where the registry and its checkpoint say,
        until it pauses or ends. Cancelled (Cancel, or the worker stopping), it stops
        at once; a run nobody cancelled is handed back to the queue."""
        run = await self.store.require(run_id)
        if run.status not in ("running", "resuming"):
            return  # paused, ended or cancelled since it was enqueued: nothing to do
        if not await self.store.take_lease(run_id, self._name, self._lease_s, holder_alive):
            from agent.runs.queue import RunBusy  # the queue retries the job shortly

            raise RunBusy(run_id)
        command_groups.end_left_behind(workspace_path(self._deps.workspaces, run_id))
        snapshot = await self.snapshot(run_id)
        payload: Any = None
        first: Event | None = None
        if not snapshot.created_at:
            payload = initial or {"run_id": run_id, "ticket_key": run.ticket, "thread_url": None}
            first = RunStarted(ticket=run.ticket, requester=run.requester)
        else:
            payload, unrecorded = _continuation(run, snapshot)
            if unrecorded is not None:
                await self.store.release_lease(run_id, self._name)
                await self._pause(run, unrecorded, only_from=(run.status,))
                return
        task = self._spawn(run, payload, first)
        try:
            await task
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            latest = await self.store.require(run_id)
            if latest.status == "cancelled":
                await remove_workspace(workspace_path(self._deps.workspaces, run_id))
            elif latest.active and self._queue is not None:
                await self._queue.enqueue(run_id)  # stopping: another worker continues it
            raise

    def _spawn(
        self, run: RunRecord, payload: Any, first_event: Event | None = None
    ) -> asyncio.Task[RunRecord]:
        if not self._drives_here:
            initial = payload if isinstance(payload, dict) else None
            task = asyncio.create_task(self._enqueue(run, initial), name=run.run_id)
        else:
            task = asyncio.create_task(self._drive(run, payload, first_event), name=run.run_id)
        self._tasks[run.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.run_id, None))
        return task

    async def _enqueue(self, run: RunRecord, initial: dict[str, Any] | None) -> RunRecord:
        assert self._queue is not None
        try:
            await self._queue.enqueue(run.run_id, initial)
        except Exception:  # the database went away (a stop): `recover()` enqueues it later
            log.warning("could not enqueue run %s; the next start-up will", run.run_id)
        return run

    async def _drive(self, run: RunRecord, payload: Any, first_event: Event | None) -> RunRecord:
        if not await self.store.take_lease(run.run_id, self._name, self._lease_s, holder_alive):
            log.warning("run %s is driven by another process; not driving it here", run.run_id)
            return await self.store.require(run.run_id)
        heartbeat = asyncio.create_task(self._keep_lease(run.run_id))
        try:
            return await self._drive_leased(run, payload, first_event)
        finally:
            # A cancel (a shutdown) may land while this hands the run back; it must not
            # cut the release short, or the lease would keep the run from every other
            # driver until it expired.
            await _to_the_end(self._hand_back(run.run_id, heartbeat))

    async def _hand_back(self, run_id: str, heartbeat: asyncio.Task[None]) -> None:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        try:
            async with asyncio.timeout(RELEASE_WITHIN_S):
                await self.store.release_lease(run_id, self._name)
        except Exception as exc:  # the store is gone: the lease runs out by itself
            log.info("run %s: could not hand back its lease (%r)", run_id, exc)

    async def _keep_lease(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 4)
            await self.store.renew_lease(run_id, self._name, self._lease_s)

    async def _drive_leased(
        self, run: RunRecord, payload: Any, first_event: Event | None
    ) -> RunRecord:
        if first_event is not None:
            await self._emit(run, first_event)
        queued = self._slots.locked()
        if queued:  # the semaphore lets waiters in, in order
            self._waiting += 1
            await self._emit(run, RunQueued(ahead=self._waiting - 1))
        async with self._slots:
            if queued:
                self._waiting -= 1
            steps: list[StepName] = []
            try:
                if run.decision is not None and run.decision.action != "revise":
                    # Delivery or a rejection: outside effects whose records must be on
                    # disk before the next one (docs/architecture.md, "Durability").
                    async with self._checkpoints.durable():
                        await self._stream(run, payload, steps)
                else:
                    await self._stream(run, payload, steps)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the run's boundary: classify, record, tell the user
                fault = storage_fault(exc, self._deps.settings.data_dir)
                error = fault or classify(exc)
                if fault is not None:  # said to the person; no trace of ours to read
                    log.info("run %s stopped: %s", run.run_id, fault.message)
                elif error is not exc:
                    log.exception("run %s failed", run.run_id)
                try:
                    # When the store itself failed, recording it is tried briefly: a store
                    # still gone leaves the run as it was, for `resume`, and the fault is
                    # raised for the surface to say (the CLI's one line, exit 75).
                    async with asyncio.timeout(RELEASE_WITHIN_S if fault else None):
                        recorded = await self.store.transition(
                            run.run_id,
                            "failed",
                            only_from=("running", "resuming"),
                            error=error.message,
                        )
                except Exception:
                    if fault is None:
                        raise
                    raise fault from exc
                if not recorded:
                    return await self.store.require(run.run_id)  # cancelled meanwhile
                if steps:
                    await self._emit(run, Step(name=steps[-1], status="failed"))
                await self._emit(run, ErrorRaised(kind=error.kind, message=error.message))
                await self._emit_usage(run)
                await self._emit(run, RunFinished(status="failed"))
        return await self.store.require(run.run_id)

    async def _stream(self, run: RunRecord, payload: Any, steps: list[StepName]) -> None:
        """Drive the graph until it pauses or ends; `steps` collects the steps started.

        The time spent here is the run's working time (TASKMASTER_MAX_MINUTES): it
        excludes waiting for a slot and waiting for a person, and is kept in the
        registry so it adds up across pauses and restarts.
        """
        await self.store.transition(
            run.run_id, "running", only_from=("running", "resuming"), keep_interrupt=True
        )
        config = self._config(run.run_id)
        worked_before = (await self.store.require(run.run_id)).worked_s
        started = time.monotonic()

        def worked() -> float:
            return worked_before + time.monotonic() - started

        saved = started
        store_failed = False

        try:
            async for mode, chunk in self._graph.astream(
                payload, config, stream_mode=["custom", "updates"], durability="sync"
            ):
                if mode == "custom":
                    event = parse_event(chunk)
                    if isinstance(event, Step) and event.status == "started":
                        steps.append(event.name)
                    if isinstance(event, TicketLoaded):
                        await self.store.set_title(run.run_id, event.ticket.title)
                    if isinstance(event, UsageReported):
                        await self.store.set_usage(run.run_id, event.usage)
                    await self._emit(run, event)
                    continue
                if (await self.store.require(run.run_id)).status == "cancelled":
                    return  # cancelled from another process; its canceller tidied up
                if isinstance(chunk, dict) and "__interrupt__" in chunk:
                    # Not recorded yet: LangGraph streams the interrupt before its write
                    # reaches the checkpoint. It is recorded below, once it has.
                    continue
                elif isinstance(chunk, dict):
                    self._check_minutes(set(chunk), worked())
                    if time.monotonic() - saved >= SAVE_WORKED_EVERY_S:
                        saved = time.monotonic()
                        await self.store.set_worked(run.run_id, worked())
        except Exception as exc:
            store_failed = storage_fault(exc, self._deps.settings.data_dir) is not None
            raise
        finally:
            if not store_failed:
                await self.store.set_worked(run.run_id, worked())
        snapshot = await self._graph.aget_state(config)
        if snapshot.interrupts:
            await self._pause(run, snapshot.interrupts[0], only_from=("running",))
            return
        outcome: FinalStatus
        match snapshot.values.get("outcome"):
            case "done":
                outcome = "done"
            case "rejected":
                outcome = "rejected"
            case _:
                raise TaskmasterError(ErrorKind.INTERNAL, "The run stopped before it finished.")
        pull_request = snapshot.values.get("pull_request")
        decision = snapshot.values.get("decision") or {}
        opened = PullRequest.model_validate(pull_request) if pull_request else None
        if opened is not None:
            await self.store.set_pull_request(run.run_id, opened)
        await self.store.transition(run.run_id, outcome, only_from=("running",))
        await self._finish(run, outcome, opened, by=decision.get("by"))

    async def _pause(
        self, run: RunRecord, pending: Interrupt, *, only_from: tuple[RunStatus, ...]
    ) -> None:
        """Record the review the checkpoint holds, then show it: a click that follows the
        message always finds the run waiting, and a kill before the record leaves a
        checkpoint that `resume` pauses on again."""
        if not await self.store.transition(
            run.run_id, "awaiting_review", only_from=only_from, interrupt_id=pending.id
        ):
            return  # cancelled meanwhile
        request = ReviewRequest.model_validate(pending.value)
        await self._emit_usage(run)
        await self._emit(run, ReviewRequested(interrupt_id=pending.id, request=request))

    def _check_minutes(self, nodes: set[str], worked_s: float) -> None:
        """Stop the agent's work past TASKMASTER_MAX_MINUTES (checked between steps)."""
        limit = self._deps.settings.max_minutes
        if nodes & WORKING_NODES and worked_s > limit * 60:
            raise BudgetExhausted(Budget.MINUTES, limit, used=worked_s / 60)

    async def _finish(
        self,
        run: RunRecord,
        status: FinalStatus,
        pull_request: PullRequest | None = None,
        *,
        by: str | None = None,
    ) -> None:
        await remove_workspace(workspace_path(self._deps.workspaces, run.run_id))
        await self._checkpoints.prune(run.run_id)
        await self._emit_usage(run)
        await self._emit(run, RunFinished(status=status, pull_request=pull_request, by=by))

    async def _emit_usage(self, run: RunRecord) -> None:
        """The run's usage so far, for surfaces that show it at milestones."""
        usage = (await self.store.require(run.run_id)).usage
        if usage is not None:
            await self._emit(run, UsageReported(usage=usage))

    async def _emit(self, run: RunRecord, event: Event) -> None:
        try:
            await self._sink(run, event)
        except Exception:  # a surface's failure must never fail the run itself
            log.exception("event sink failed on %s for run %s", event.type, run.run_id)

    async def _known(self, run_id: str) -> RunRecord:
        run = await self.store.get(run_id)
        if run is None:
            raise RunRefused("unknown", f"There is no run {run_id[:40]}.")
        return run

    @staticmethod
    def _config(run_id: str) -> RunnableConfig:
        return {
            "configurable": {"thread_id": thread_id(run_id)},
            "recursion_limit": RECURSION_LIMIT,
        }


async def _to_the_end(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end even when the caller is cancelled meanwhile; the cancel
    is raised once it has ended."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


def _continuation(run: RunRecord, snapshot: StateSnapshot) -> tuple[Any, Interrupt | None]:
    """How to continue a checkpointed run: (what to stream, a review to record instead).

    A decision claimed for the pending interrupt is applied (the process stopped
    before it reached the checkpoint); a pending interrupt the registry does not hold
    is a review to record and show (the process stopped before recording it); else
    the graph goes on from its checkpoint.
    """
    pending = {interrupt.id: interrupt for interrupt in snapshot.interrupts}
    if run.decision is not None and run.interrupt_id in pending:
        decided = {run.interrupt_id: run.decision.model_dump(mode="json")}
        return Command(resume=decided), None
    if pending:
        return None, next(iter(pending.values()))
    return None, None
