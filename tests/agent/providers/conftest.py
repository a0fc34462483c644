"""The real provider SDKs (langchain-openai, langchain-anthropic) against strict fakes.

`provider` starts a fake OpenAI or Anthropic on 127.0.0.1 and points the SDK at it
the way a person would: OPENAI_BASE_URL / ANTHROPIC_BASE_URL and the API key in the
environment, TASKMASTER_MODEL naming the provider. The run works on the demo
repository and tickets; only the model's turns come from the fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio

from agent.demo import prepare_demo
from agent.events import Event
from agent.runs.manager import RunManager
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord
from agent.settings import Settings, load_settings
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.chat import FakeChatServer, Usage
from tests.fakes.openai_api import FakeOpenAI

E = TypeVar("E")
MODELS = {"openai": "openai:gpt-4o", "anthropic": "anthropic:claude-sonnet-4-5"}
# Variables that would point the SDKs elsewhere, or authenticate them otherwise.
FOREIGN = (
    "OPENAI_API_BASE",
    "OPENAI_ORG_ID",
    "OPENAI_ORGANIZATION",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "LANGSMITH_GATEWAY",
    "LANGSMITH_TRACING",
    "LANGCHAIN_TRACING_V2",
)


@dataclass
class Provider:
    """A fake provider and the settings that make TaskMaster use it."""

    name: str
    fake: FakeChatServer
    env: dict[str, str]  # the environment a person would set, for a `taskmaster` process

    @property
    def model(self) -> str:
        return MODELS[self.name]

    @property
    def key_setting(self) -> str:
        return f"{self.name.upper()}_API_KEY"

    def totals(self) -> Usage:
        """What the fake reported, summed as LangChain reads it (input includes cached)."""
        usages = self.fake.usages
        return Usage(
            sum(u.input for u in usages),
            sum(u.output for u in usages),
            sum(u.cached for u in usages),
        )


def provider_env(name: str, fake: FakeChatServer) -> dict[str, str]:
    if name == "openai":
        return {"OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_API_KEY": fake.key}
    return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": fake.key}


# LangChain's OpenAI and Anthropic packages keep their HTTP clients in process-wide
# caches, bound to the event loop that first used them: right for a process, which has
# one loop, wrong for tests that have one each. These tests share one loop instead
# (each module says `pytestmark = SHARED_LOOP`; fixtures they use run in it too).
SHARED_LOOP = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", params=["openai", "anthropic"])
async def provider(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Provider]:
    name: str = request.param
    fake: FakeChatServer = FakeOpenAI() if name == "openai" else FakeAnthropic()
    data = tmp_path / "data"
    async with fake:
        env = {
            **await prepare_demo(data),
            "TASKMASTER_DATA_DIR": str(data),
            **provider_env(name, fake),
            "TASKMASTER_MODEL": MODELS[name],
            "TASKMASTER_MODEL_TIMEOUT": "5",
            "TASKMASTER_MODEL_RETRIES": "1",
        }
        for variable in FOREIGN:
            monkeypatch.delenv(variable, raising=False)
        for variable, value in provider_env(name, fake).items():
            monkeypatch.setenv(variable, value)
        yield Provider(name, fake, env)


class Recorder:
    """An event sink that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, run: RunRecord, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


def settings_for(provider: Provider, **overrides: str) -> Settings:
    return load_settings(provider.env, env_file=None, overrides=overrides)


@asynccontextmanager
async def running(
    provider: Provider, recorder: Recorder | None = None, **overrides: str
) -> AsyncIterator[RunManager]:
    """A runtime (the product's own composition root) using the fake provider."""
    async with open_runtime(settings_for(provider, **overrides), {}, recorder or Recorder()) as m:
        yield m


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield Recorder()


def data_dir(provider: Provider) -> Path:
    return Path(provider.env["TASKMASTER_DATA_DIR"])
