"""`taskmaster serve`: the Slack app over HTTP or Socket Mode (docs/architecture.md, Slack).

Wiring order matters: the run manager needs its event sink when it is opened, and the
sink needs the Slack client, which exists only once the app is built. So the reporter
(the sink) is made first, the runtime is opened with it, and building the app hands
the reporter its client. Shutdown runs the other way: stop taking requests, stop the
runs (they stay `running` and continue at the next start), write what the reporter
still holds, then close the runtime.

`serve` checks its tokens before anything else: the bot token with `auth.test`, the
app-level token (Socket Mode) with `apps.connections.open`. A refused or malformed
token stops it with one line naming the setting (exit 2), instead of retrying for
ever. It prints one line once it listens or is connected, and SIGINT or SIGTERM stop
it at any point, start-up included.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TextIO, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from agent.events import ReviewRequested
from agent.integrations import registry
from agent.runs.manager import EventSink, RunManager, RunRefused
from agent.runs.runtime import Role, open_runtime
from agent.settings import Settings, SettingsError
from agent.storage import check_writable
from bot.signals import stop_on_signals
from bot.slack.app import build_app
from bot.slack.guard import request_guard
from bot.slack.reporter import ThreadReporter
from bot.slack.reviewers import Reviewers
from bot.slack.threads import ThreadStore, open_thread_store

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECK_TIMEOUT = 15.0  # seconds for each token check at start-up
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class Runtime(Protocol):
    """Opens the run manager over a sink: `open_runtime`, or it with a test's `adjust`."""

    def __call__(
        self, settings: Settings, environ: Mapping[str, str], sink: EventSink, *, role: Role = ...
    ) -> AbstractAsyncContextManager[RunManager]: ...


@dataclass(frozen=True)
class SlackBot:
    """A built app with the run manager and the reporter it drives."""

    app: AsyncApp
    manager: RunManager
    reporter: ThreadReporter
    threads: ThreadStore


@dataclass(frozen=True)
class BotHandle:
    """A bot serving HTTP; `url` is its Slack request URL."""

    bot: SlackBot
    url: str
    health_url: str


@asynccontextmanager
async def running_app(
    settings: Settings,
    environ: Mapping[str, str],
    runtime: Runtime = open_runtime,
    *,
    identity: Identity | None = None,
) -> AsyncIterator[SlackBot]:
    """The app, its manager and reporter; runs left mid-step are continued on entry.

    `identity` is the bot token's `auth.test`, when the caller has asked already
    (`serve` does, before anything else); otherwise it is asked here, before the app
    takes a request.
    """
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    identity = identity or await check_bot_token(settings)
    reporter = ThreadReporter(
        reviewers=Reviewers.from_settings(settings),
        surface=settings.slack_surface,
        code_channels=settings.slack_code_channels,
        start_after_progress=settings.database == "postgres",  # workers drive the runs
    )
    async with (
        runtime(settings, environ, reporter, role="web") as manager,
        open_thread_store(settings) as threads,  # after the registry: it takes over rows
    ):
        app = build_app(settings, manager, reporter, threads, identity.auth_test)
        try:
            await _abandon_unshown(manager, threads)
            recovered = await manager.recover()
            if recovered:
                log.info("continuing %d runs left mid-step", len(recovered))
            await post_missing_reviews(manager, reporter, threads)
            yield SlackBot(app, manager, reporter, threads)
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
    identity: Identity | None = None,
) -> AsyncIterator[BotHandle]:
    """Serve the app over HTTP on host:port (0 picks a free port) until the block ends."""
    async with running_app(settings, environ, runtime, identity=identity) as bot:
        web_app = bot.app.web_app(path=EVENTS_PATH, port=port)
        secret = settings.slack_signing_secret
        assert secret is not None  # required above
        web_app.middlewares.append(request_guard(secret.get_secret_value(), EVENTS_PATH))
        web_app.router.add_get(HEALTH_PATH, _health_check(settings))
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


@dataclass(frozen=True)
class Identity:
    """Who the bot token belongs to, as `auth.test` says."""

    user: str
    team: str
    auth_test: AsyncSlackResponse  # the whole answer, which Bolt's authorization reads


async def check_bot_token(settings: Settings) -> Identity:
    """`auth.test` with SLACK_BOT_TOKEN; `SettingsError` naming it when Slack refuses it."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if not token.startswith("xoxb-"):
        raise SettingsError("SLACK_BOT_TOKEN is not a bot token: a bot token starts with xoxb-")
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10)
    answer = await _ask_slack(client.auth_test(), "SLACK_BOT_TOKEN", settings)
    return Identity(
        user=str(answer.get("user") or "taskmaster"),
        team=str(answer.get("team") or ""),
        auth_test=answer,
    )


async def check_app_token(settings: Settings) -> str:
    """`apps.connections.open` with SLACK_APP_TOKEN; the token, or `SettingsError` naming it."""
    token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not token.startswith("xapp-"):
        raise SettingsError(
            "SLACK_APP_TOKEN is not an app-level token: it starts with xapp- "
            "(Basic Information > App-Level Tokens, scope connections:write)"
        )
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    await _ask_slack(client.apps_connections_open(app_token=token), "SLACK_APP_TOKEN", settings)
    return token


async def _ask_slack(call: Awaitable[T], setting: str, settings: Settings) -> T:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await call
    except SlackApiError as refused:
        error = refused.response.get("error", "refused")
        raise SettingsError(f"{setting} was refused by Slack ({error}): check it in .env") from None
    except (aiohttp.ClientError, TimeoutError, OSError) as failure:
        raise SettingsError(
            f"Slack cannot be reached at {settings.slack_api_url} ({type(failure).__name__}); "
            "check SLACK_API_URL and the network"
        ) from None


STOP_GRACE = 4.0  # seconds the shutdown may take before it is cut short


async def serve(
    settings: Settings, environ: Mapping[str, str], *, out: TextIO = sys.stdout
) -> None:
    """Run the Slack app until SIGINT or SIGTERM: Socket Mode if SLACK_APP_TOKEN is set,
    else HTTP on PORT (all interfaces) at /slack/events, with GET /healthz beside it."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    async with stop_on_signals() as stop:
        ready = asyncio.Event()
        serving = asyncio.create_task(_serve(settings, environ, stop, ready, out))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not serving.done():
            # Serving: it stops by itself (and tidies up). Still starting: abandon it.
            grace = STOP_GRACE if ready.is_set() else 0.0
            await asyncio.wait({serving}, timeout=grace)
            serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        if not serving.cancelled() and (failure := serving.exception()) is not None:
            raise failure  # a start-up failure: SettingsError, said in one line


async def _serve(
    settings: Settings,
    environ: Mapping[str, str],
    stop: asyncio.Event,
    ready: asyncio.Event,
    out: TextIO,
) -> None:
    # What this host must have comes first (one line, no network), then Slack's word on
    # the tokens, then everything else.
    await registry.sandbox(settings, environ).check()
    identity = await check_bot_token(settings)
    if settings.slack_app_token is None:
        async with running_bot(
            settings, environ, host="0.0.0.0", port=settings.port, identity=identity
        ):
            _say(out, f"listening on :{settings.port} as @{identity.user} in {identity.team}")
            ready.set()
            await stop.wait()
        return
    token = await check_app_token(settings)
    async with running_app(settings, environ, identity=identity) as bot:
        handler = AsyncSocketModeHandler(bot.app, token)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]  # unannotated in Bolt
            _say(out, f"connected as @{identity.user} in {identity.team} (Socket Mode)")
            ready.set()
            await stop.wait()
        finally:
            await _close(handler)


async def _close(handler: AsyncSocketModeHandler) -> None:
    """Close the connection and wait for the client's tasks to end: slack_sdk cancels them
    without waiting, and a task still holding a response when the loop closes logs errors."""
    client = handler.client
    await handler.close_async()  # type: ignore[no-untyped-call]
    tasks = [
        task
        for task in (
            client.message_processor,
            client.message_receiver,
            client.current_session_monitor,
        )
        if task is not None
    ]
    await asyncio.gather(*tasks, return_exceptions=True)


def _say(out: TextIO, line: str) -> None:
    print(f"taskmaster: {line}", file=out, flush=True)


async def _abandon_unshown(manager: RunManager, threads: ThreadStore) -> None:
    """Runs made for Slack whose root message was never posted (the bot stopped while
    Slack kept refusing it) never started: without a thread nobody would see them, so
    they are marked failed, not started now. `/taskmaster KEY` starts the ticket again."""
    for run in await manager.store.with_status("running"):
        try:
            thread = await threads.get(run.run_id)
            if thread is None or thread.root_ts:
                continue
            if not (await manager.snapshot(run.run_id)).created_at:
                log.info("run %s never got its first message in Slack; not starting it", run.run_id)
                await manager.abandon(run.run_id, "Its first message never reached Slack.")
        except Exception as exc:  # one bad run never stops start-up
            await manager.fail_unrecoverable(run, exc)


async def post_missing_reviews(
    manager: RunManager,
    reporter: ThreadReporter,
    threads: ThreadStore,
    *,
    fail_unreadable: bool = True,
) -> None:
    """Post the review of runs that wait on one nobody saw (the process that was to post
    it stopped first): without it, they would wait forever. `serve` looks at start-up,
    a worker every third of its timeout; the reporter's claim (in the thread store)
    makes one process post each. One run whose review cannot be read is marked failed
    with the reason (at start-up; a worker's frequent look only logs it, as the
    database may be briefly away); the rest go on."""
    for run in await manager.store.with_status("awaiting_review"):
        thread = await threads.get(run.run_id)
        if thread is None or not thread.root_ts:
            continue
        if thread.review_ts is not None and thread.review_for == run.interrupt_id:
            continue
        try:
            _, interrupt_id, request = await manager.pending_review(run.run_id)
        except RunRefused:  # decided meanwhile, or continued by recover()
            continue
        except Exception as exc:
            if fail_unreadable:
                await manager.fail_unrecoverable(run, exc)
            else:
                log.warning("the review of run %s could not be read: %r", run.run_id, exc)
            continue
        log.info("posting the missing review of run %s", run.run_id)
        await reporter(run, ReviewRequested(interrupt_id=interrupt_id, request=request))


def _health_check(settings: Settings) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /healthz: 503 while the data folder or the SQLite database cannot be written
    (read-only, full, locked), so a supervisor restarts or alerts; 200 otherwise."""
    db_path = settings.db_path if settings.database_url is None else None

    async def healthz(_: web.Request) -> web.Response:
        problem = await asyncio.to_thread(check_writable, settings.data_dir, db_path)
        if problem is not None:
            return web.json_response({"ok": False, "error": problem}, status=503)
        return web.json_response({"ok": True})

    return healthz
