"""Shared fixtures of the Slack tests: LocalSlack on 127.0.0.1 and the bot serving HTTP.

The bot runs in-process with its real HTTP endpoint, request signing, SQLite registry
and checkpoints, the demo repository and tickets, and the scripted model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from agent.runs.runtime import open_runtime
from agent.settings import load_settings
from bot.slack.conversation import BOT_EVENTS
from bot.slack.server import BotHandle, Runtime, running_bot
from localslack import LocalSlack

BOT_TOKEN = "xoxb-test"  # a stand-in: LocalSlack issues no real tokens
SIGNING_SECRET = "test-signing-secret"

StartBot = Callable[..., AbstractAsyncContextManager[BotHandle]]


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    """LocalSlack, strict as Slack: each test ends by proving Slack took every call."""
    local = LocalSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, events=BOT_EVENTS)
    await local.start()
    try:
        yield local
    finally:
        await local.stop()
    assert local.refusals == [], "the bot sent what Slack would refuse"


@pytest.fixture
def bot_env(demo_env: dict[str, str], slack: LocalSlack) -> dict[str, str]:
    return {
        **demo_env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }


@pytest.fixture
def data_dir(bot_env: dict[str, str]) -> Path:
    return Path(bot_env["TASKMASTER_DATA_DIR"])


@pytest.fixture
def remote(bot_env: dict[str, str]) -> Path:
    return Path(bot_env["TASKMASTER_REPO"])


@pytest.fixture
def start_bot(bot_env: dict[str, str], slack: LocalSlack) -> StartBot:
    """Start a bot (with extra settings, or its own runtime) that LocalSlack delivers to."""

    @asynccontextmanager
    async def start(runtime: Runtime = open_runtime, **overrides: str) -> AsyncIterator[BotHandle]:
        env = {**bot_env, **overrides}
        settings = load_settings(env, env_file=None)
        async with running_bot(settings, env, runtime=runtime) as handle:
            slack.app_url = handle.url
            yield handle

    return start


@pytest.fixture
async def bot(start_bot: StartBot) -> AsyncIterator[BotHandle]:
    async with start_bot() as handle:
        yield handle
