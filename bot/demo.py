"""`taskmaster demo`: TaskMaster in a local Slack in the browser, with no Slack account.

LocalSlack (a stand-in for Slack's servers, with a Slack-like web page) and the bot run
in this process on loopback: the page at http://127.0.0.1:8765 sends slash commands,
clicks and modal submissions to the bot exactly as Slack would, signed, over HTTP, and
the bot answers through LocalSlack's Web API. The demo repository, tickets and scripted
model come from `agent.demo` (a model configured in TASKMASTER_MODEL is used instead).

LocalSlack keeps its messages in memory, so a demo's runs live in a folder of their
own, `<TASKMASTER_DATA_DIR>/demo`, made afresh at each start: runs recorded against
another session's Slack would point at threads that no longer exist. The folder stays
after the demo stops, so the pushed branch can be looked at in `demo/demo-remote`.
"""

from __future__ import annotations

import asyncio
import fcntl
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.demo import demo_overrides
from agent.settings import Settings, SettingsError
from bot.signals import stop_on_signals
from bot.slack.conversation import BOT_EVENTS
from bot.slack.server import BotHandle, running_bot
from bot.slack.sessions import AGENT_EVENTS
from localslack import LocalSlack

DEFAULT_PORT = 8765
SESSION_DIR = "demo"
SUGGESTIONS = ["/taskmaster TASK-101", "/taskmaster TASK-102", "/taskmaster help"]
SCRIPTED_NOTICE = (
    "This demo's model is scripted: its answers for TASK-101 and TASK-102 were written in "
    "advance and cover one round of changes. Ask for more and it says so and hands the change "
    "back as it is; everything else (git, the tests, Slack's calls) runs for real."
)


@dataclass(frozen=True)
class Demo:
    """A running demo: the page's `url`, the LocalSlack behind it, and the bot."""

    url: str
    slack: LocalSlack
    bot: BotHandle
    settings: Settings


@asynccontextmanager
async def demo_running(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
) -> AsyncIterator[Demo]:
    """LocalSlack on host:port (0 picks a free port) and the bot wired to it, until the
    block ends. Raises `SettingsError` (one line) if the port cannot be had.
    """
    slack = LocalSlack(
        bot_token=f"xoxb-demo-{secrets.token_hex(12)}",
        signing_secret=secrets.token_hex(16),
        events=[*BOT_EVENTS, *(AGENT_EVENTS if settings.slack_surface == "agent" else ())],
    )
    slack.ui.suggestions = list(SUGGESTIONS)
    if (settings.model or "scripted:").startswith("scripted:"):
        slack.ui.notice = SCRIPTED_NOTICE
    try:
        await slack.start(host, port)
    except OSError as error:
        raise SettingsError(
            f"cannot serve the demo on {host}:{port} ({error.strerror or error}); "
            "is another demo running? Stop it, or start this one with --port N "
            "and its own TASKMASTER_DATA_DIR."
        ) from None
    try:
        with _only_demo_on(settings.data_dir):
            demo_settings = await _demo_settings(settings, slack)
            async with running_bot(demo_settings, environ, host="127.0.0.1", port=0) as bot:
                slack.app_url = bot.url
                yield Demo(_page_url(slack.base_url, host), slack, bot, demo_settings)
    finally:
        await slack.stop()


@contextmanager
def _only_demo_on(data_dir: Path) -> Iterator[None]:
    """One demo per data folder: a second one would delete the first one's files
    (its runs, its remote) while it still serves them. The lock dies with the process."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / "demo.lock").open("a")
    except OSError as error:
        raise SettingsError(
            f"TASKMASTER_DATA_DIR={data_dir} cannot be used: {error.strerror or error}"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SettingsError(
                f"another demo is running with the files in {data_dir / SESSION_DIR}; stop it "
                "(Ctrl-C in its terminal) or give this one its own TASKMASTER_DATA_DIR "
                "and --port N"
            ) from None
        yield


def on_surface(settings: Settings, surface: str) -> Settings:
    """`taskmaster demo --surface`: `agent` shows Slack's agent surface with a code
    channel per run; `thread` the progress card."""
    agent = surface == "agent"
    return settings.model_copy(
        update={"slack_surface": "agent" if agent else "thread", "slack_code_channels": agent}
    )


async def run_demo(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
) -> None:
    """Serve the demo until cancelled, SIGINT (Ctrl-C) or SIGTERM; then stop it cleanly."""
    async with (
        stop_on_signals() as stop,
        demo_running(settings, environ, host=host, port=port) as demo,
    ):
        print(banner(demo), flush=True)
        await stop.wait()
        print("\nStopping the demo…", flush=True)


def banner(demo: Demo) -> str:
    model = demo.settings.model or "scripted"
    scripted = model.startswith("scripted:")
    approvers = ", ".join(sorted(demo.settings.approvers)) or "anyone"
    return "\n".join(
        [
            f"Open {demo.url} — type /taskmaster TASK-101",
            "",
            "  A local Slack with you as ana, ben or cho (pick one at the bottom left).",
            f"  Model: {'the scripted demo model' if scripted else model}",
            f"  Approvers: {approvers}  (TASKMASTER_APPROVERS, e.g. U_ANA,U_BEN)",
            f"  Slack surface: {demo.settings.slack_surface}",
            f"  Files of this session: {demo.settings.data_dir}",
            "  Press Ctrl-C to stop.",
        ]
    )


async def _demo_settings(settings: Settings, slack: LocalSlack) -> Settings:
    """The given settings, pointed at the demo project and at LocalSlack, nowhere else."""
    session = (settings.data_dir / SESSION_DIR).resolve()
    await asyncio.to_thread(shutil.rmtree, session, True)
    overrides = await demo_overrides(session)
    if settings.model:
        overrides.pop("TASKMASTER_MODEL")  # a real (or own scripted) model was asked for
    overrides.update(
        {
            "TASKMASTER_DATA_DIR": str(session),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "SLACK_APP_TOKEN": None,  # HTTP to LocalSlack, never Socket Mode to Slack
        }
    )
    values = {**settings.model_dump(by_alias=True), **overrides}
    return Settings.model_validate(values)


def _page_url(base_url: str, host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return base_url.replace(f"//{host}:", "//127.0.0.1:", 1)
    return base_url
