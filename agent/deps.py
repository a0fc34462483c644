"""What the graph's nodes need from the outside world, passed to `build_graph(deps)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.integrations.base import CodeHost, ModelFactory, TicketSource
from agent.models import Note
from agent.redaction import Redactor
from agent.sandbox.base import Sandbox
from agent.settings import Settings


class Inbox(Protocol):
    """Where a run finds what people said to it while it works (the run registry)."""

    async def notes_after(self, run_id: str, after: int) -> Sequence[Note]: ...


class NoInbox:
    """Nobody can talk to the run (LangGraph Studio, a graph without a registry)."""

    async def notes_after(self, run_id: str, after: int) -> Sequence[Note]:
        return ()


@dataclass(frozen=True)
class Deps:
    settings: Settings
    tickets: TicketSource
    code_host: CodeHost
    model_for: ModelFactory
    # Where the repository's own code runs (its setup and test commands).
    sandbox: Sandbox
    # Masks secret values in text that came from outside (test output, tool results).
    redact: Redactor = field(default_factory=Redactor)
    # TaskMaster's own environment (only PATH and the locale reach the sandbox).
    environ: Mapping[str, str] = field(default_factory=dict)
    inbox: Inbox = field(default_factory=NoInbox)

    @property
    def workspaces(self) -> Path:
        return self.settings.data_dir / "workspaces"
