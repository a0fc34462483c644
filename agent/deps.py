"""What the graph's nodes need from the outside world, passed to `build_graph(deps)`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.integrations.base import CodeHost, ModelFactory, TicketSource
from agent.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    tickets: TicketSource
    code_host: CodeHost
    model_for: ModelFactory
    # The environment the repository's tests inherit (scrubbed of secrets before use).
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def workspaces(self) -> Path:
        return self.settings.data_dir / "workspaces"
