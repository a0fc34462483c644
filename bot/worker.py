"""`taskmaster worker`: drives runs taken from the queue and writes their Slack threads.

Any number of workers, on any machine that reaches the database and the code host,
each with the Slack bot token. `serve` answers Slack and enqueues; a worker takes a
job ("drive run R until it pauses or ends"), drives the graph from the run's last
checkpoint and writes what happens into the run's thread, found through the Slack
surface's thread store. At most TASKMASTER_MAX_RUNS jobs at once per worker.

Each worker also puts back the jobs of workers that stopped sending heartbeats for
TASKMASTER_WORKER_TIMEOUT seconds (killed, or their machine gone), so a run whose
worker was SIGKILLed continues on another from its last checkpoint; and it enqueues
runs that have no job at all, quiet for twice that timeout, whose thread was shown
(the `serve` that was to enqueue one stopped first, or the database refused it), and
posts the reviews whose poster was killed first (one process claims each). SIGTERM or
SIGINT stop it: jobs get `stop_grace()` (3 s, less with a short worker timeout), then
each is cancelled and its run put back in the queue for another worker (the step it
was in is done again there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Mapping
from typing import TextIO

from agent.runs.lease import process_name
from agent.runs.manager import RunManager
from agent.runs.runtime import open_runtime
from agent.settings import Settings, SettingsError
from bot.slack.app import build_client
from bot.slack.reporter import ThreadReporter
from bot.slack.reviewers import Reviewers
from bot.slack.server import Runtime, check_bot_token, post_missing_reviews
from bot.slack.threads import ThreadStore, open_thread_store

log = logging.getLogger(__name__)

STOP_GRACE = 3.0  # seconds running jobs get after SIGTERM before they are handed back
LOST_AFTER = 2  # a run with no job, unchanged for this many worker timeouts, is enqueued


def stop_grace(worker_timeout: float) -> float:
    """The grace after SIGTERM: procrastinate stops the heartbeat first, so the grace
    must end well before other workers would take this one's jobs for a dead worker's."""
    return min(STOP_GRACE, worker_timeout / 4)


async def work(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    out: TextIO = sys.stdout,
    runtime: Runtime = open_runtime,
) -> None:
    """Take and drive jobs until SIGINT or SIGTERM."""
    settings.require("TASKMASTER_DATABASE_URL", "SLACK_BOT_TOKEN")
    if settings.database != "postgres":
        raise SettingsError("taskmaster worker needs TASKMASTER_DATABASE_URL=postgresql://...")
    identity = await check_bot_token(settings)
    reporter = ThreadReporter(
        reviewers=Reviewers.from_settings(settings),
        surface=settings.slack_surface,
        code_channels=settings.slack_code_channels,
    )
    async with (
        runtime(settings, environ, reporter, role="worker") as manager,
        open_thread_store(settings) as threads,
    ):
        reporter.attach(build_client(settings), manager.store, threads)
        queue = manager.queue
        assert queue is not None
        recovery = asyncio.create_task(
            _keep_every_run_queued(manager, reporter, threads, settings.worker_timeout)
        )
        print(f"taskmaster: worker ready as @{identity.user}", file=out, flush=True)
        try:
            await queue.app.run_worker_async(
                name=process_name(),
                concurrency=settings.max_runs,
                install_signal_handlers=True,
                shutdown_graceful_timeout=stop_grace(settings.worker_timeout),
                update_heartbeat_interval=settings.worker_timeout / 3,
                stalled_worker_timeout=settings.worker_timeout,
                fetch_job_polling_interval=settings.worker_timeout / 3,
                abort_job_polling_interval=settings.worker_timeout / 3,
            )
        finally:
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)
            await reporter.aclose()


async def _keep_every_run_queued(
    manager: RunManager, reporter: ThreadReporter, threads: ThreadStore, silence_s: float
) -> None:
    """Every third of the timeout: put back the jobs of workers silent for the timeout,
    and enqueue the runs with no job that `serve` had shown (their progress message is
    recorded, after which it enqueues them: `start_after_progress`). A run it never
    showed is left to the next `serve` start-up, which abandons it (nobody saw it).
    And post the reviews a killed worker never posted."""
    queue = manager.queue
    assert queue is not None
    while True:
        with contextlib.suppress(Exception):  # a failed look is retried next time
            await queue.recover_stalled(silence_s)
        with contextlib.suppress(Exception):
            for run in await manager.unqueued(LOST_AFTER * silence_s):
                thread = await threads.get(run.run_id)
                if thread is not None and thread.progress_ts:
                    await manager.requeue(run)
        with contextlib.suppress(Exception):  # its poster killed first: one process posts it
            await post_missing_reviews(manager, reporter, threads, fail_unreadable=False)
        await asyncio.sleep(silence_s / 3)
