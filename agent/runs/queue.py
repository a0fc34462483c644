"""The work queue: procrastinate on the registry's PostgreSQL database.

A job is "drive run R until it pauses or ends". `serve` (the web process) creates
runs, claims decisions and enqueues; `taskmaster worker` processes take the jobs.
procrastinate gives what we need without a queue of our own: a `lock` per run (one
job of a run runs at a time, on one worker), a `queueing_lock` (at most one waiting
job per run), LISTEN/NOTIFY both for new jobs and for aborting one (Cancel), and
worker heartbeats, from which `recover_stalled` finds the jobs of a worker that died
(SIGKILL) and puts them back, so another worker continues the run from its last
checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate.jobs import Status

from agent.runs.pg_store import advisory_lock

log = logging.getLogger(__name__)

TASK_NAME = "taskmaster.drive_run"
SCHEMA_LOCK = 0x7A5C_0004  # pg_advisory_lock key of procrastinate's schema setup
RETRY_WAIT_S = 2  # a run another driver still holds is tried again this much later
RETRY_ATTEMPTS = 120
QUEUE_POOL = 4  # connections at most in a process's queue pool

Driver = Callable[[str, dict[str, Any] | None], Awaitable[None]]
"""What a worker does with a job: drive run `run_id` (with its first input, if new)."""


class RunBusy(Exception):
    """Another process still drives the run (its lease is live): the job is retried."""


class RunQueue:
    """Enqueue and abort the drive jobs of runs."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    async def enqueue(self, run_id: str, initial: dict[str, Any] | None = None) -> None:
        """Ask a worker to drive the run; a job already waiting for it is enough."""
        try:
            await self.app.configure_task(TASK_NAME, lock=run_id, queueing_lock=run_id).defer_async(
                run_id=run_id, initial=initial
            )
        except queue_errors.AlreadyEnqueued:
            log.debug("run %s already has a waiting job", run_id)

    async def has_job(self, run_id: str) -> bool:
        """Whether a job of the run waits or runs (a retry waiting its turn included)."""
        manager = self.app.job_manager
        for status in ("todo", "doing"):
            if list(await manager.list_jobs_async(lock=run_id, status=status)):
                return True
        return False

    async def abort(self, run_id: str) -> None:
        """Stop the run's jobs: a waiting one is cancelled, a running one is aborted (its
        worker hears it through NOTIFY and cancels the job's task)."""
        manager = self.app.job_manager
        for status, abort in (("todo", False), ("doing", True)):
            for job in await manager.list_jobs_async(lock=run_id, status=status):
                assert job.id is not None
                await manager.cancel_job_by_id_async(job.id, abort=abort)

    async def recover_stalled(self, worker_timeout: float) -> int:
        """Put back the jobs of workers silent for `worker_timeout` s; how many went back."""
        manager = self.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=worker_timeout))
        for job in stalled:
            log.warning("job of run %s lost its worker; putting it back", job.lock)
            try:
                await manager.retry_job(job)
            except queue_errors.AlreadyEnqueued:  # the run already has a waiting job
                assert job.id is not None  # so this one ends, and frees the run's lock
                await manager.finish_job_by_id_async(job.id, Status.ABORTED, delete_job=False)
        return len(stalled)


def make_app(url: str, driver: Driver | None = None) -> procrastinate.App:
    """The procrastinate app on TASKMASTER_DATABASE_URL; `driver` is set in workers."""
    # A few connections are plenty for enqueuing, heartbeats and fetching jobs (psycopg's
    # default is 4 kept open in every process, on a server that allows 100 in all).
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=QUEUE_POOL)
    app = procrastinate.App(connector=connector)

    @app.task(
        name=TASK_NAME,
        retry=procrastinate.RetryStrategy(
            max_attempts=RETRY_ATTEMPTS, wait=RETRY_WAIT_S, retry_exceptions={RunBusy}
        ),
    )
    async def drive_run(run_id: str, initial: dict[str, Any] | None = None) -> None:
        if driver is None:
            raise RuntimeError("this process enqueues runs; `taskmaster worker` drives them")
        await driver(run_id, initial)

    return app


@asynccontextmanager
async def open_queue(url: str, driver: Driver | None = None) -> AsyncIterator[RunQueue]:
    """The queue, its schema applied once (under an advisory lock) by the first process."""
    app = make_app(url, driver)
    async with app.open_async():
        async with (
            app.connector.pool.connection() as conn,  # type: ignore[attr-defined]
            advisory_lock(conn, SCHEMA_LOCK),
        ):
            found = await app.connector.execute_query_one_async(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
            )
            if not found["present"]:
                await app.schema_manager.apply_schema_async()
        yield RunQueue(app)
