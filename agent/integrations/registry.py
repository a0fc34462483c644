"""One name-to-factory registry per kind of outside service, chosen by settings.

Adding a ticket system or a code host is one entry here, not another `if`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiohttp

from agent.deps import Deps
from agent.integrations.base import CodeHost, ModelFactory, TicketSource
from agent.integrations.chat_models import CallLimits, model_factory
from agent.integrations.github import GitHubCodeHost
from agent.integrations.gitlab import GitLabCodeHost
from agent.integrations.gitlab_issues import GitLabTicketSource
from agent.integrations.jira import JiraTicketSource
from agent.integrations.local_code_host import LocalCodeHost
from agent.integrations.local_tickets import LocalTicketSource
from agent.redaction import Redactor
from agent.runs.checkpoints import (
    Checkpoints,
    open_postgres_checkpoints,
    open_sqlite_checkpoints,
)
from agent.runs.pg_store import PostgresRunStore
from agent.runs.records import RunRegistry
from agent.runs.store import RunStore
from agent.sandbox.base import Sandbox
from agent.sandbox.bwrap import BwrapSandbox
from agent.sandbox.limits import Limits
from agent.sandbox.unsandboxed import Unsandboxed
from agent.settings import Settings, SettingsError

TicketSourceFactory = Callable[[Settings, aiohttp.ClientSession], TicketSource]
CodeHostFactory = Callable[[Settings, aiohttp.ClientSession], CodeHost]
SandboxFactory = Callable[[Settings, Mapping[str, str]], Sandbox]
RunRegistryOpener = Callable[[Settings], AbstractAsyncContextManager[RunRegistry]]
CheckpointsOpener = Callable[[Settings], AbstractAsyncContextManager[Checkpoints]]


def _local_tickets(settings: Settings, _: aiohttp.ClientSession) -> TicketSource:
    folder = Path(settings.tickets or "")
    if not folder.is_dir():
        raise SettingsError(
            f"TASKMASTER_TICKETS is not 'jira', 'gitlab' or a folder: {settings.tickets}"
        )
    return LocalTicketSource(folder, settings.data_dir)


def _local_code_host(settings: Settings, _: aiohttp.ClientSession) -> CodeHost:
    settings.require("TASKMASTER_REPO")
    return LocalCodeHost(settings.repo or "", settings.data_dir)


TICKET_SOURCES: dict[str, TicketSourceFactory] = {
    "jira": JiraTicketSource,
    "gitlab": GitLabTicketSource,
    "local": _local_tickets,
}
CODE_HOSTS: dict[str, CodeHostFactory] = {
    "github": GitHubCodeHost,
    "gitlab": GitLabCodeHost,
    "local": _local_code_host,
}


def _bwrap(settings: Settings, environ: Mapping[str, str]) -> Sandbox:
    home = environ.get("HOME")
    protected = [settings.data_dir, Path.cwd(), *([Path(home)] if home else [])]
    return BwrapSandbox(
        environ=dict(environ),
        limits=Limits(
            processes=settings.sandbox_processes,
            memory_mb=settings.sandbox_memory_mb,
            file_mb=settings.sandbox_file_mb,
        ),
        network=settings.sandbox_network,
        extra_mounts=settings.sandbox_mounts,
        protected=tuple(protected),
    )


def _unsandboxed(_: Settings, environ: Mapping[str, str]) -> Sandbox:
    return Unsandboxed(environ=dict(environ))


SANDBOXES: dict[str, SandboxFactory] = {
    "bwrap": _bwrap,
    "off": _unsandboxed,
}


@asynccontextmanager
async def _sqlite_registry(settings: Settings) -> AsyncIterator[RunRegistry]:
    store = await RunStore.open(settings.db_path)
    try:
        yield store
    finally:
        await store.close()


def _sqlite_checkpoints(settings: Settings) -> AbstractAsyncContextManager[Checkpoints]:
    return open_sqlite_checkpoints(settings.db_path)


@asynccontextmanager
async def _postgres_registry(settings: Settings) -> AsyncIterator[RunRegistry]:
    store = await PostgresRunStore.open(settings.database_url_text)
    try:
        yield store
    finally:
        await store.close()


def _postgres_checkpoints(settings: Settings) -> AbstractAsyncContextManager[Checkpoints]:
    return open_postgres_checkpoints(settings.database_url_text)


# Keyed by `Settings.database` (TASKMASTER_DATABASE_URL's kind; SQLite when unset).
RUN_REGISTRIES: dict[str, RunRegistryOpener] = {
    "sqlite": _sqlite_registry,
    "postgres": _postgres_registry,
}
CHECKPOINTERS: dict[str, CheckpointsOpener] = {
    "sqlite": _sqlite_checkpoints,
    "postgres": _postgres_checkpoints,
}


def run_registry(settings: Settings) -> AbstractAsyncContextManager[RunRegistry]:
    """The run registry in the database TASKMASTER_DATABASE_URL names (SQLite when unset)."""
    return RUN_REGISTRIES[settings.database](settings)


def checkpoints(settings: Settings) -> AbstractAsyncContextManager[Checkpoints]:
    """LangGraph's checkpointer for that same database, with its pruning."""
    return CHECKPOINTERS[settings.database](settings)


def ticket_source(settings: Settings, http: aiohttp.ClientSession) -> TicketSource:
    """TASKMASTER_TICKETS: a source's name, or else a folder of Markdown tickets."""
    settings.require("TASKMASTER_TICKETS")
    name = settings.tickets if settings.tickets in TICKET_SOURCES else "local"
    return TICKET_SOURCES[name](settings, http)


def code_host(settings: Settings, http: aiohttp.ClientSession) -> CodeHost:
    return CODE_HOSTS[settings.code_host_name](settings, http)


def chat_model(settings: Settings) -> ModelFactory:
    settings.require("TASKMASTER_MODEL")
    limits = CallLimits(timeout=settings.model_timeout, retries=settings.model_retries)
    return model_factory(settings.model or "", limits)


def sandbox(settings: Settings, environ: Mapping[str, str]) -> Sandbox:
    return SANDBOXES[settings.sandbox](settings, environ)


def build_deps(settings: Settings, http: aiohttp.ClientSession, environ: Mapping[str, str]) -> Deps:
    """Everything the graph needs, chosen by settings; `environ` is TaskMaster's own."""
    return Deps(
        settings=settings,
        tickets=ticket_source(settings, http),
        code_host=code_host(settings, http),
        model_for=chat_model(settings),
        sandbox=sandbox(settings, environ),
        redact=Redactor.from_settings(settings, environ),
        environ=dict(environ),
    )
