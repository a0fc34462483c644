"""`taskmaster serve`: the Slack app over HTTP or Socket Mode (DESIGN section 6).

Wiring order matters: the run manager needs its event sink when it is opened, and the
sink needs the Slack client, which exists only once the app is built. So the reporter
(the sink) is made first, the runtime is opened with it, and building the app hands
the reporter its client. Shutdown runs the other way: stop taking requests, stop the
runs (they stay `running` and continue at the next start), write what the reporter
still holds, then close the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from agent.events import ReviewRequested
from agent.runs.manager import EventSink, RunManager
from agent.runs.runtime import open_runtime
from agent.settings import Settings
from bot.signals import stop_on_signals
from bot.slack.app import build_app
from bot.slack.reporter import ThreadReporter

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

Runtime = Callable[
    [Settings, Mapping[str, str], EventSink], AbstractAsyncContextManager[RunManager]
]
"""Opens the run manager over a sink: `open_runtime`, or a test's own wiring."""


@dataclass(frozen=True)
class SlackBot:
    """A built app with the run manager and the reporter it drives."""

    app: AsyncApp
    manager: RunManager
    reporter: ThreadReporter


@dataclass(frozen=True)
class BotHandle:
    """A bot serving HTTP; `url` is its Slack request URL."""

    bot: SlackBot
    url: str
    health_url: str


@asynccontextmanager
async def running_app(
    settings: Settings, environ: Mapping[str, str], runtime: Runtime = open_runtime
) -> AsyncIterator[SlackBot]:
    """The app, its manager and reporter; runs left mid-step are continued on entry."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    reporter = ThreadReporter()
    async with runtime(settings, environ, reporter) as manager:
        app = build_app(settings, manager, reporter)
        try:
            recovered = await manager.recover()
            if recovered:
                log.info("continuing %d runs left mid-step", len(recovered))
            await _post_missing_reviews(manager, reporter)
            yield SlackBot(app, manager, reporter)
        finally:
            await manager.aclose()
            await reporter.aclose()


@asynccontextmanager
async def running_bot(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    runtime: Runtime = open_runtime,
) -> AsyncIterator[BotHandle]:
    """Serve the app over HTTP on host:port (0 picks a free port) until the block ends."""
    async with running_app(settings, environ, runtime) as bot:
        web_app = bot.app.web_app(path=EVENTS_PATH, port=port)
        web_app.router.add_get(HEALTH_PATH, _healthz)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            bound = runner.addresses[0][1]
            base = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{bound}"
            log.info("serving Slack requests on %s:%d%s", host, bound, EVENTS_PATH)
            yield BotHandle(bot, base + EVENTS_PATH, base + HEALTH_PATH)
        finally:
            await runner.cleanup()


async def serve(settings: Settings, environ: Mapping[str, str]) -> None:
    """Run the Slack app until SIGINT or SIGTERM: Socket Mode if SLACK_APP_TOKEN is set,
    else HTTP on PORT (all interfaces) at /slack/events, with GET /healthz beside it."""
    async with stop_on_signals() as stop:
        if settings.slack_app_token is None:
            async with running_bot(settings, environ, host="0.0.0.0", port=settings.port):
                await stop.wait()
            return
        async with running_app(settings, environ) as bot:
            token = settings.slack_app_token.get_secret_value()
            handler = AsyncSocketModeHandler(bot.app, token)
            await handler.connect_async()  # type: ignore[no-untyped-call]  # unannotated in Bolt
            log.info("connected to Slack in Socket Mode")
            try:
                await stop.wait()
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]


async def _post_missing_reviews(manager: RunManager, reporter: ThreadReporter) -> None:
    """Post the review of runs that wait on one nobody saw (the bot stopped before it
    was posted): without it, they would wait forever."""
    for run in await manager.store.with_status("awaiting_review"):
        if run.root_ts and not run.review_ts:
            _, interrupt_id, request = await manager.pending_review(run.run_id)
            log.info("posting the missing review of run %s", run.run_id)
            await reporter(run, ReviewRequested(interrupt_id=interrupt_id, request=request))


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})
